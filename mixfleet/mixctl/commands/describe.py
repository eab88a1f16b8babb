"""``mixctl describe KIND NAME...``: a human summary with the object's Events."""

from __future__ import annotations

import argparse
import sys

from mixfleet.api.kinds import Kind
from mixfleet.api.types import Obj
from mixfleet.client import Client
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import get_or_explain, parse_refs
from mixfleet.mixctl.printers.age import utcnow
from mixfleet.mixctl.session import Invocation


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("describe", parents=[common], help="show details of objects and their events")
    p.add_argument("resources", nargs="+", metavar="KIND NAME... | KIND/NAME...")
    p.set_defaults(handler=run, extra_positionals="resources")


async def events_for(client: Client, kind: Kind, obj: Obj) -> list[Obj]:
    """Events whose involvedObject is this object. Node events may be recorded in any
    namespace, so cluster-scoped objects search them all."""
    meta = obj.get("metadata") or {}
    items, _ = await client.list(
        "Event",
        namespace=meta.get("namespace", "") if kind.namespaced else "",
        all_namespaces=not kind.namespaced,
        field_selector=f"involvedObject.name={meta.get('name', '')}",
    )
    # The selector matches names only; a Pod and a Node may share one.
    return [e for e in items if (e.get("involvedObject") or {}).get("kind", kind.kind) == kind.kind]


async def claim_users(client: Client, claim: Obj) -> list[str]:
    """The names of the pods (not finished) whose volumes use ``claim``."""
    from mixfleet.api.claims import pod_claims

    meta = claim.get("metadata") or {}
    pods, _ = await client.list("Pod", namespace=meta.get("namespace", ""))
    return sorted(
        p["metadata"]["name"] for p in pods
        if meta.get("name") in pod_claims(p) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


async def _describe_one(client: Client, kind: Kind, name: str, namespace: str) -> str:
    # Imported here: it needs api.quantity, whose parser pulls in the (slow) kubernetes package.
    from mixfleet.mixctl.printers import describe as d

    obj = await get_or_explain(client, kind, name, namespace)
    events = await events_for(client, kind, obj)
    now = utcnow()
    if kind.kind == "Pod":
        return d.describe_pod(obj, events, now=now)
    if kind.kind == "Node":
        pods, _ = await client.list("Pod", all_namespaces=True, field_selector=f"spec.nodeName={name}")
        running = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        return d.describe_node(obj, running, events, now=now)
    if kind.kind in ("Deployment", "ReplicaSet"):
        return d.describe_workload(obj, events, now=now)
    if kind.kind == "Secret":
        return d.describe_secret(obj, events, now=now)
    if kind.kind == "CronJob":
        from mixfleet.mixctl.printers.describe_batch import describe_cronjob

        return describe_cronjob(obj, events, now=now)
    if kind.kind == "DaemonSet":
        from mixfleet.mixctl.printers.daemonset import describe_daemonset

        pods, _ = await client.list("Pod", namespace=namespace)
        uid = obj["metadata"].get("uid")
        mine = [p for p in pods if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])]
        return describe_daemonset(obj, mine, events, now=now)
    if kind.kind == "PersistentVolumeClaim":
        return d.describe_claim(obj, await claim_users(client, obj), events, now=now)
    return d.describe_generic(obj, events, now=now)


def run(args: argparse.Namespace, inv: Invocation) -> int:
    session = inv.session
    _, refs = parse_refs(args.resources)
    if not refs:
        raise CLIError("error: describe needs a NAME (mixctl describe KIND NAME)")

    async def go(client: Client) -> list[str]:
        failures = []
        for i, (kind, name) in enumerate(refs):
            try:
                text = await _describe_one(client, kind, name, session.namespace)
            except CLIError as e:
                failures.append(e.message)
                continue
            # A blank line between objects, as kubectl does.
            sys.stdout.write(("\n" if i else "") + text)
        return failures

    failures = session.run(go)
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0
