"""`mixfleet`: the server-side command.

    mixfleet controlplane --store etcd://127.0.0.1:2379 --listen 0.0.0.0:7443
    mixfleet agent --server 127.0.0.1:7443 [--simulate windows/20348+hyperv ...]
    mixfleet dev [--simulate ...]      # all in one on the embedded store
    mixfleet snapshot save FILE | restore --from FILE   # the embedded store's backups
    mixfleet certs init|hash|admin|revoke, mixfleet token create|list|delete   # the PKI
    mixfleet user create NAME --group G | list | delete NAME   # users' bearer tokens
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Awaitable, Callable

from mixfleet.util import log

_log = log.get("cli")


def _add_controlplane_args(p: argparse.ArgumentParser, *, default_store: str | None) -> None:
    p.add_argument(
        "--store",
        default=default_store,
        required=default_store is None,
        help="sqlite:///path/state.db (embedded) or etcd://host:2379[,host:2379]/prefix",
    )
    p.add_argument("--listen", default="127.0.0.1:7443", help="gRPC address (host:port)")
    p.add_argument("--strategy", choices=("binpack", "spread"), default="binpack")
    p.add_argument("--identity", default=None, help="leader-election identity")
    p.add_argument("--leader-ttl", type=float, default=5.0, help="seconds")
    p.add_argument("--node-monitor-grace", type=float, default=40.0, help="seconds")
    p.add_argument("--pod-eviction-timeout", type=float, default=60.0, help="seconds")
    p.add_argument("--max-replicas", type=int, default=None, metavar="N",
                   help="most replicas a Deployment or ReplicaSet may ask for (default 10000)")
    p.add_argument(
        "--pod-security-default", choices=("privileged", "baseline", "restricted"), default="baseline",
        help="Pod Security level of a namespace without the label pod-security.kubernetes.io/enforce",
    )
    p.add_argument(
        "--encryption-key-file", default="", metavar="FILE",
        help="seal Secrets in the store with AES-GCM under the keys in FILE (the first seals, all "
        "open; make one with `mixfleet encryption-key new FILE`); mixfleet dev makes "
        ".mixfleet/encryption-keys.yaml when not given",
    )
    p.add_argument(
        "--audit-log-path", default=None, metavar="PATH",
        help="where the audit log of every write goes: a file of JSON lines (rotated at 100 MiB, "
        "5 kept) or - for this process's log (the default; mixfleet dev: .mixfleet/audit.log)",
    )
    p.add_argument("--port-file", default=None, help="write the bound port here once serving")
    p.add_argument(
        "--max-object-bytes",
        type=int,
        default=None,
        help="largest object the API accepts, encoded (default 1.5 MiB, like etcd's request limit)",
    )
    p.add_argument(
        "--max-objects-per-apply", type=int, default=0, metavar="N",
        help="refuse an apply of more objects (mixctl splits larger files); "
             "default 1000 on the embedded store, 100 on etcd (its --max-txn-ops is 128)",
    )
    p.add_argument(
        "--max-watches-per-client", type=_non_negative(int), default=200, metavar="N",
        help="open Watch streams one client may hold; more are refused (0: no limit)",
    )
    p.add_argument(
        "--max-requests-per-client", type=_non_negative(float), default=500.0, metavar="R",
        help="requests per second one client may make, in bursts of up to 2R; more are refused "
        "and the client library retries them with backoff (0: no limit)",
    )


def _add_security_args(p: argparse.ArgumentParser) -> None:
    from mixfleet.cmd.pkicmds import DEFAULT_PKI_DIR, add_etcd_tls_args, duration

    p.add_argument("--pki-dir", default=DEFAULT_PKI_DIR, metavar="DIR",
                   help=f"the certificates of `mixfleet certs init` (default {DEFAULT_PKI_DIR})")
    p.add_argument("--insecure", action="store_true",
                   help="serve plaintext without authentication, on loopback only (never in production)")
    p.add_argument("--token-listen", default="", metavar="HOST:PORT",
                   help="the TLS port without client certificates, for joining nodes "
                        "(default: --listen's port + 1)")
    p.add_argument("--node-cert-lifetime", type=duration, default=None, metavar="DURATION",
                   help="lifetime of the node certificates this replica signs (default 365d)")
    add_etcd_tls_args(p)


class StartupError(Exception):
    """The server cannot start as asked; the message says what to do."""


def _is_loopback(host: str) -> bool:
    import ipaddress

    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secure_listen(args: argparse.Namespace) -> None:
    """Refuse to serve plaintext unless --insecure, which then binds loopback only."""
    from mixfleet.pki import layout

    if args.insecure:
        host, _, port = args.listen.rpartition(":")
        if not _is_loopback(host):
            args.listen = f"127.0.0.1:{port}"
        message = (f"mixfleet controlplane: --insecure: serving PLAINTEXT without authentication on "
                   f"{args.listen} (loopback only); every local process is trusted as cluster-admin")
        print(message, file=sys.stderr, flush=True)
        _log.warning("server.insecure", listen=args.listen, asked=f"{host}:{port}")
        args.pki_dir_used = None
        return
    missing = layout.missing(Path(args.pki_dir))
    if missing:
        raise StartupError(
            f"no TLS certificates in {args.pki_dir} (missing {', '.join(missing)}): the control plane "
            f"does not serve plaintext. Make them with `mixfleet certs init --dir {args.pki_dir} --san "
            "<address clients dial>`, or pass --insecure to serve plaintext on loopback only"
        )
    args.pki_dir_used = args.pki_dir


def _non_negative(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        return value

    return parse


def _controlplane_config(args: argparse.Namespace):  # -> ControlPlaneConfig
    from mixfleet.controlplane.app import ControlPlaneConfig

    cfg = ControlPlaneConfig(
        store_url=args.store,
        listen=args.listen,
        strategy=args.strategy,
        leader_ttl=args.leader_ttl,
        node_monitor_grace=args.node_monitor_grace,
        pod_eviction_timeout=args.pod_eviction_timeout,
        max_objects_per_apply=args.max_objects_per_apply,
        max_watches_per_client=args.max_watches_per_client,
        max_requests_per_client=args.max_requests_per_client,
        pod_security_default=args.pod_security_default,
        encryption_key_file=args.encryption_key_file,
        audit_log_path=args.audit_log_path or "-",
    )
    if args.identity:
        cfg.identity = args.identity
    if args.max_object_bytes is not None:
        cfg.max_object_bytes = args.max_object_bytes
    if args.max_replicas is not None:
        cfg.max_replicas = args.max_replicas
    cfg.pki_dir = getattr(args, "pki_dir_used", None)  # None: plaintext (dev, --insecure)
    cfg.token_listen = getattr(args, "token_listen", "") or ""
    if getattr(args, "node_cert_lifetime", None) is not None:
        cfg.node_cert_lifetime = args.node_cert_lifetime
    if hasattr(args, "etcd_cafile"):
        from mixfleet.cmd.pkicmds import etcd_tls

        cfg.etcd_tls = etcd_tls(args)
    return cfg


async def _run_controlplane(args: argparse.Namespace) -> None:
    from mixfleet.controlplane.app import ControlPlane

    _secure_listen(args)
    cp = ControlPlane(_controlplane_config(args))
    await cp.start()
    if args.port_file:
        Path(args.port_file).write_text(str(cp.port))
    try:
        await asyncio.Event().wait()
    finally:
        await cp.stop()


async def _run_agent(args: argparse.Namespace) -> None:
    from mixfleet.cmd.agents import run_agents

    await run_agents(args)


async def _run_dev(args: argparse.Namespace) -> None:
    from mixfleet.cmd.dev import run_dev

    await run_dev(args)


def _add_agent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--simulate",
        action="append",
        default=[],
        metavar="SPEC",
        help="add simulated nodes: OS[/BUILD][+hyperv][xCOUNT][:cpu=N,memory=Q], e.g. "
        "windows/20348, windows/17763+hyperv, linux/6.1x3, windows/26100+hyperv:cpu=16",
    )
    p.add_argument(
        "--docker-host",
        default=os.environ.get("DOCKER_HOST", ""),
        help="engine address (default: the platform's socket or named pipe)",
    )
    p.add_argument("--no-docker", action="store_true", help="run simulated nodes only")
    p.add_argument("--node-name", default=None, help="name of the real node (default hostname)")
    p.add_argument("--agent-listen", default="127.0.0.1:0",
                   help="agent gRPC (logs, exec) address; with several nodes, the first's (the real"
                   " node's): the others take free ports")
    p.add_argument("--heartbeat-interval", type=float, default=5.0, help="seconds")
    p.add_argument(
        "--disk-path",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory whose filesystem sets the real node's DiskPressure when under 10%% "
        "free (the engine's data root always counts when it is on this host)",
    )
    p.add_argument(
        "--root-dir",
        default="",
        metavar="DIR",
        help="where each node keeps its pods' volumes and its claims' persistent data, in "
        "DIR/<node> (default: mixfleet dev: .mixfleet/agents; mixfleet agent: a temp dir)",
    )
    p.add_argument(
        "--pod-infra-image",
        default="",
        metavar="IMAGE",
        help="the real node's pod sandbox image, pulled when absent (default: "
        "mixfleet/pause:latest, built on the node from its static busybox; on Windows the "
        "nanoserver image of the host's build)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixfleet", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=None,
        help="default: console on a terminal, JSON otherwise",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    cp = sub.add_parser("controlplane", parents=[common], help="run a control-plane replica")
    _add_controlplane_args(cp, default_store=None)
    _add_security_args(cp)
    cp.set_defaults(run=_run_controlplane)

    ag = sub.add_parser("agent", parents=[common], help="run a node agent (real engine and/or simulated nodes)")
    ag.add_argument("--server", default=os.environ.get("MIXFLEET_SERVER", "127.0.0.1:7443"))
    _add_agent_args(ag)
    ag.add_argument("--cert-dir", default="/var/lib/mixfleet/pki", metavar="DIR",
                    help="each node's certificate and key, in DIR/NODE (default /var/lib/mixfleet/pki)")
    ag.add_argument("--join", default=None, metavar="TOKEN", help="a bootstrap token (mixfleet token create)")
    ag.add_argument("--ca-hash", default=None, metavar="sha256:HEX",
                    help="the cluster CA's discovery hash (mixfleet certs hash); required with --join")
    ag.add_argument("--bootstrap-server", default=None, metavar="HOST:PORT",
                    help="where to join (default: --server's host, port + 1)")
    ag.add_argument("--insecure", action="store_true",
                    help="plaintext, no certificate: only for a control plane on loopback run with --insecure")
    ag.set_defaults(run=_run_agent)

    dev = sub.add_parser("dev", parents=[common], help="all in one: control plane, local agent, simulated nodes")
    _add_controlplane_args(dev, default_store="sqlite://.mixfleet/dev.db")
    _add_agent_args(dev)
    dev.set_defaults(run=_run_dev)

    from mixfleet.cmd import encryptionkey, snapshot, users

    snapshot.add_parser(sub)
    users.add_parser(sub)
    from mixfleet.cmd import pkicmds

    pkicmds.add_parsers(sub)
    encryptionkey.add_parser(sub)
    return parser


def _serve(run: Callable[[argparse.Namespace], Awaitable[None]], args: argparse.Namespace) -> int:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await run(args)
        except asyncio.CancelledError:
            _log.info("process.stopping", command=args.command)

    try:
        asyncio.run(main())
    except Exception as e:  # a start-up failure: one clear line, no traceback
        print(f"mixfleet {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "command_main"):  # a one-shot command, not a server
        code: int = args.command_main(args)
        return code
    log.configure(json=None if args.log_format is None else args.log_format == "json")
    return _serve(args.run, args)


if __name__ == "__main__":
    sys.exit(main())
