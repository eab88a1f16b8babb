"""`mixfleet certs ...` and `mixfleet token ...`: the cluster's PKI, like kubeadm's
``init phase certs``, ``token create`` and ``kubeconfig user``.

    mixfleet certs init --dir /etc/mixfleet/pki --san 10.0.0.1 --san cp.example.com
    mixfleet certs hash --dir /etc/mixfleet/pki              # the CA's discovery hash
    mixfleet certs admin --dir /etc/mixfleet/pki --name alice --out ~/.mixfleet/alice
    mixfleet certs revoke --store URL CERTFILE | --serial HEX
    mixfleet token create --store URL --ttl 1h
    mixfleet token list|delete --store URL [ID]

Token and revocation commands write the store directly (run them where the store is
reachable: on a control-plane host, as kubeadm's commands run there).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from mixfleet.pki import layout
from mixfleet.pki.certs import MASTERS_GROUP, CertificateError, ca_hash, load_cert
from mixfleet.pki.material import TLSFileError, TLSMaterial, read_pem

DEFAULT_PKI_DIR = "/etc/mixfleet/pki"
_DEFAULT_STORE = "sqlite://.mixfleet/dev.db"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> datetime.timedelta:
    """``90s``, ``15m``, ``1h``, ``30d`` (argparse type)."""
    m = _DURATION.match(text.strip())
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration like 30s, 15m, 1h or 7d, got {text!r}")
    return datetime.timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def add_etcd_tls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--etcd-cafile", default=None, metavar="FILE", help="CA that signed etcd's serving certificate")
    p.add_argument("--etcd-certfile", default=None, metavar="FILE", help="client certificate for etcd")
    p.add_argument("--etcd-keyfile", default=None, metavar="FILE", help="key of --etcd-certfile")


def etcd_tls(args: argparse.Namespace) -> TLSMaterial | None:
    """TLS to etcd from the --etcd-* flags; None when none is given."""
    ca, cert, key = args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile
    if ca is None and cert is None and key is None:
        return None
    if ca is None:
        raise TLSFileError("--etcd-certfile/--etcd-keyfile need --etcd-cafile (the CA of etcd's certificate)")
    if (cert is None) != (key is None):
        raise TLSFileError("--etcd-certfile and --etcd-keyfile go together")
    return TLSMaterial.from_files(ca, cert, key)


def _with_store(args: argparse.Namespace, fn: Callable[[Any], Awaitable[int]]) -> int:
    from mixfleet.store import open_store
    from mixfleet.util import log

    # Logs to stderr, warnings only: stdout is the answer (`TOKEN=$(mixfleet token create)`).
    log.configure(level="warning")
    async def run() -> int:
        store = open_store(args.store, etcd_tls=etcd_tls(args))
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(run())


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    certs = sub.add_parser("certs", help="the cluster CA and certificates")
    verbs = certs.add_subparsers(dest="verb", required=True)
    init = verbs.add_parser("init", help="make the cluster CA and the control plane's certificates")
    init.add_argument("--dir", default=DEFAULT_PKI_DIR, help=f"PKI directory (default {DEFAULT_PKI_DIR})")
    init.add_argument("--san", action="append", default=[], metavar="NAME|IP",
                      help="a name or address clients reach the control plane at (repeat)")
    init.set_defaults(command_main=_init)
    hsh = verbs.add_parser("hash", help="print the CA's discovery hash (for mixfleet agent --ca-hash)")
    hsh.add_argument("--dir", default=DEFAULT_PKI_DIR)
    hsh.set_defaults(command_main=_hash)
    admin = verbs.add_parser("admin", help="make a client certificate for mixctl (cluster-admin by default)")
    admin.add_argument("--dir", default=DEFAULT_PKI_DIR)
    admin.add_argument("--name", default="admin", help="the user name (the certificate's CN)")
    admin.add_argument("--group", action="append", default=None, metavar="GROUP",
                       help=f"a group (O; repeat; default {MASTERS_GROUP}, i.e. cluster-admin)")
    admin.add_argument("--out", required=True, metavar="PREFIX", help="writes PREFIX.crt and PREFIX.key (0600)")
    admin.add_argument("--ttl", type=duration, default=datetime.timedelta(days=365), help="lifetime (default 365d)")
    admin.set_defaults(command_main=_admin)
    revoke = verbs.add_parser("revoke", help="refuse a certificate from now on (every replica, within seconds)")
    revoke.add_argument("certificate", nargs="?", help="the certificate file to revoke")
    revoke.add_argument("--serial", default=None, help="or its serial number, in hex")
    _store_args(revoke)
    revoke.set_defaults(command_main=_revoke)

    token = sub.add_parser("token", help="bootstrap tokens for joining nodes")
    tverbs = token.add_subparsers(dest="verb", required=True)
    create = tverbs.add_parser("create", help="make a join token (printed once; stored hashed)")
    create.add_argument("--ttl", type=duration, default=datetime.timedelta(hours=24), help="lifetime (default 24h)")
    create.add_argument("--description", default="")
    _store_args(create)
    create.set_defaults(command_main=_token_create)
    lst = tverbs.add_parser("list", help="list join tokens (ids and expiry, never secrets)")
    _store_args(lst)
    lst.set_defaults(command_main=_token_list)
    delete = tverbs.add_parser("delete", help="delete a join token")
    delete.add_argument("id", help="the token's id (the 6 characters before the dot) or the whole token")
    _store_args(delete)
    delete.set_defaults(command_main=_token_delete)


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=_DEFAULT_STORE, help=f"the store's URL (default {_DEFAULT_STORE})")
    add_etcd_tls_args(p)


def _fail(args: argparse.Namespace, e: BaseException) -> int:
    print(f"mixfleet {args.command} {args.verb}: error: {e}", file=sys.stderr)
    return 1


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from mixfleet.store.base import StoreError

        try:
            return fn(args)
        except (OSError, ValueError, StoreError, CertificateError) as e:
            return _fail(args, e)

    return run


@_guarded
def _init(args: argparse.Namespace) -> int:
    if not args.san:
        raise ValueError("name at least one --san: the address or name clients and agents dial "
                         "(e.g. --san 10.0.0.1 --san cp.example.com)")
    result = layout.init(Path(args.dir), tuple(args.san))
    print(f"made the cluster CA and the control plane's certificates in {result.directory} "
          f"(serving certificate for {', '.join(result.sans)})")
    print(f"CA discovery hash: {result.ca_hash}")
    print("next: mixfleet controlplane --pki-dir", result.directory, "...; then on this host:")
    print("      mixfleet token create --store URL --ttl 1h   (for each joining node)")
    return 0


@_guarded
def _hash(args: argparse.Namespace) -> int:
    print(ca_hash(read_pem(Path(args.dir) / layout.CA_CERT, "CA certificate")))
    return 0


@_guarded
def _admin(args: argparse.Namespace) -> int:
    ca = layout.load_ca(Path(args.dir))
    groups = tuple(args.group) if args.group else (MASTERS_GROUP,)
    issued = ca.issue_pair(common_name=args.name, orgs=groups, lifetime=args.ttl)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out.with_name(out.name + ".crt"), out.with_name(out.name + ".key")
    layout.write_private(key_path, issued.key_pem)
    layout.write_private(cert_path, issued.cert_pem)
    ca_path = Path(args.dir) / layout.CA_CERT
    print(f"wrote {cert_path} and {key_path} (user {args.name}, groups {', '.join(groups)})")
    print(f"use it: mixctl config set-context NAME --server HOST:7443 --certificate-authority {ca_path} "
          f"--client-certificate {cert_path} --client-key {key_path}")
    return 0


@_guarded
def _revoke(args: argparse.Namespace) -> int:
    from mixfleet.controlplane import pkirecords

    if bool(args.certificate) == bool(args.serial):
        raise ValueError("name the certificate file or --serial HEX (one of them)")

    async def run(store: Any) -> int:
        if args.certificate:
            cert = load_cert(read_pem(args.certificate, "certificate"))
            fresh = await pkirecords.revoke(store, cert)
            what = f"certificate {cert.serial_number:x} ({cert.subject.rfc4514_string()})"
        else:
            fresh = await pkirecords.revoke_serial(store, args.serial)
            what = f"certificate serial {args.serial}"
        print(f"{what} {'revoked' if fresh else 'was already revoked'}")
        return 0

    return _with_store(args, run)


@_guarded
def _token_create(args: argparse.Namespace) -> int:
    from mixfleet.controlplane import pkirecords

    async def run(store: Any) -> int:
        token, expires = await pkirecords.create_token(store, args.ttl, description=args.description)
        print(token)
        print(f"expires {expires.isoformat(timespec='seconds')}", file=sys.stderr)
        return 0

    return _with_store(args, run)


@_guarded
def _token_list(args: argparse.Namespace) -> int:
    from mixfleet.controlplane import pkirecords

    async def run(store: Any) -> int:
        for t in await pkirecords.list_tokens(store):
            print(f"{t.get('id', '')}\t{t.get('expires', '')}\t{t.get('description', '')}")
        return 0

    return _with_store(args, run)


@_guarded
def _token_delete(args: argparse.Namespace) -> int:
    from mixfleet.controlplane import pkirecords

    token_id = args.id.split(".", 1)[0]

    async def run(store: Any) -> int:
        if not await pkirecords.delete_token(store, token_id):
            raise ValueError(f'no bootstrap token "{token_id}"')
        print(f'bootstrap token "{token_id}" deleted')
        return 0

    return _with_store(args, run)
