"""``mixctl create secret generic|docker-registry NAME ...`` and ``mixctl create configmap
NAME ...``, as kubectl has them:

    mixctl create secret generic db --from-literal=password=s3cret --from-file=tls.key
    mixctl create secret docker-registry regcred --docker-server=reg.example.com:5000 \\
        --docker-username=u --docker-password=p [--docker-email=e]
    mixctl create configmap app --from-literal=mode=prod --from-file=conf=./app.conf
    mixctl create job backup-now --from=cronjob/backup

``--from-file=PATH`` takes the file's name as the key, ``--from-file=KEY=PATH`` names it;
``--from-file=DIR`` takes every regular file in the directory. Values never appear in
mixctl's output or errors.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from mixfleet.api import batch
from mixfleet.api.kinds import UnknownKindError, lookup
from mixfleet.client import Client
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import get_or_explain
from mixfleet.mixctl.session import Invocation


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    create = sub.add_parser("create", help="create a Secret or a ConfigMap from literals and files, "
                            "or a Job from a CronJob")
    kinds = create.add_subparsers(dest="create_kind", metavar="secret|configmap|job", required=True)

    secret = kinds.add_parser("secret", help="create a Secret")
    types = secret.add_subparsers(dest="secret_type", metavar="generic|docker-registry", required=True)
    generic = types.add_parser("generic", parents=[common], help="a Secret from literals and files")
    _data_flags(generic)
    generic.add_argument("--type", default="Opaque", help="the Secret's type (default Opaque)")
    generic.set_defaults(handler=run_generic_secret)

    registry = types.add_parser("docker-registry", parents=[common], help="an image pull Secret")
    registry.add_argument("name")
    registry.add_argument("--docker-server", required=True)
    registry.add_argument("--docker-username", required=True)
    registry.add_argument("--docker-password", required=True)
    registry.add_argument("--docker-email", default="")
    _dry_run_flag(registry)
    registry.set_defaults(handler=run_registry_secret)

    configmap = kinds.add_parser("configmap", aliases=["cm"], parents=[common], help="create a ConfigMap")
    _data_flags(configmap)
    configmap.set_defaults(handler=run_configmap)

    job = kinds.add_parser("job", parents=[common], help="create a Job from a CronJob's template")
    job.add_argument("name")
    job.add_argument("--from", dest="from_", required=True, metavar="cronjob/NAME",
                     help="the CronJob whose jobTemplate the Job is made from")
    _dry_run_flag(job)
    job.set_defaults(handler=run_job)


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--from-literal", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH")
    _dry_run_flag(p)


def _dry_run_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="validate on the server, write nothing")


def collect(literals: list[str], files: list[str]) -> dict[str, bytes]:
    """KEY -> raw bytes from --from-literal and --from-file; CLIError naming the flag (never
    the value) when one is malformed, a file unreadable or a key given twice."""
    data: dict[str, bytes] = {}

    def put(key: str, value: bytes, flag: str) -> None:
        if not key:
            raise CLIError(f"error: {flag}: a key is required")
        if key in data:
            raise CLIError(f"error: {flag}: key {key!r} given more than once")
        data[key] = value

    for literal in literals:
        key, sep, value = literal.partition("=")
        if not sep:
            raise CLIError(f"error: --from-literal {key!r}: must be KEY=VALUE")
        put(key, value.encode(), "--from-literal")
    for spec in files:
        key, sep, path_text = spec.partition("=")
        path = Path(path_text if sep else spec)
        if path.is_dir() and not sep:
            for f in sorted(p for p in path.iterdir() if p.is_file()):
                put(f.name, _read(f), f"--from-file {spec}")
            continue
        put(key if sep else path.name, _read(path), f"--from-file {spec}")
    return data


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CLIError(f"error: --from-file {path}: cannot read: {e.strerror}") from e


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _object(kind: str, name: str, namespace: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, **fields}


def run_generic_secret(args: argparse.Namespace, inv: Invocation) -> int:
    data = collect(args.from_literal, args.from_file)
    obj = _object("Secret", args.name, inv.session.namespace, type=args.type,
                  data={k: _b64(v) for k, v in data.items()})
    return _create(obj, args, inv)


def run_registry_secret(args: argparse.Namespace, inv: Invocation) -> int:
    auth = _b64(f"{args.docker_username}:{args.docker_password}".encode())
    entry = {"username": args.docker_username, "password": args.docker_password, "auth": auth}
    if args.docker_email:
        entry["email"] = args.docker_email
    config = json.dumps({"auths": {args.docker_server: entry}}).encode()
    obj = _object("Secret", args.name, inv.session.namespace, type="kubernetes.io/dockerconfigjson",
                  data={".dockerconfigjson": _b64(config)})
    return _create(obj, args, inv)


def run_configmap(args: argparse.Namespace, inv: Invocation) -> int:
    data, binary = {}, {}
    for key, value in collect(args.from_literal, args.from_file).items():
        try:
            data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = _b64(value)  # as kubectl: bytes that are not text go to binaryData
    fields: dict[str, Any] = {"data": data}
    if binary:
        fields["binaryData"] = binary
    return _create(_object("ConfigMap", args.name, inv.session.namespace, **fields), args, inv)


def run_job(args: argparse.Namespace, inv: Invocation) -> int:
    """kubectl's ``create job NAME --from=cronjob/NAME``: the CronJob's jobTemplate now, owned
    by the CronJob and marked as made by hand."""
    source, _, cronjob_name = str(args.from_).partition("/")
    try:
        from_kind = lookup(source).kind
    except UnknownKindError:
        from_kind = ""
    if from_kind != "CronJob" or not cronjob_name:
        raise CLIError(f"error: --from={args.from_}: from must be an existing cronjob (cronjob/NAME)")

    async def made(client: Client) -> dict[str, Any]:
        cronjob = await get_or_explain(client, lookup("cronjob"), cronjob_name, inv.session.namespace)
        return batch.job_from_cronjob(cronjob, args.name, annotations={batch.MANUAL: "manual"})

    return _create(inv.session.run(made), args, inv)


def _create(obj: dict[str, Any], args: argparse.Namespace, inv: Invocation) -> int:
    async def go(client: Client) -> list[tuple[dict[str, Any], str]]:
        if args.dry_run:
            return await client.apply([obj], dry_run=True)
        return [(await client.create(obj), "created")]

    suffix = " (dry run)" if args.dry_run else ""
    for stored, outcome in inv.session.run(go):
        print(f"{names.ref(stored)} {outcome}{suffix}")
    return 0
