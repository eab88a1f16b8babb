"""``mixctl get KIND[,KIND] [NAME...] [-n NS|-A] [-l SEL] [--field-selector S]
[-o wide|yaml|json|name] [--show-labels] [-w]``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from mixfleet.api.kinds import Kind
from mixfleet.api.types import Obj
from mixfleet.client import Client, NotFoundError
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import not_found_message
from mixfleet.mixctl.objects import namespace_for, parse_refs
from mixfleet.mixctl.printers import columns, output, table
from mixfleet.mixctl.printers.age import utcnow
from mixfleet.mixctl.session import Invocation, Session


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("get", parents=[common], help="list objects in a table or as YAML/JSON")
    p.add_argument("resources", nargs="+", metavar="KIND[,KIND] [NAME...] | KIND/NAME...")
    add_selector_flags(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list in every namespace")
    p.add_argument("-o", "--output", choices=output.FORMATS, help="output format")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.add_argument("-w", "--watch", action="store_true", help="keep printing changes (Ctrl-C stops)")
    p.set_defaults(handler=run, extra_positionals="resources")


def add_selector_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", default="", help="e.g. spec.nodeName=n1,status.phase=Running")


@dataclass(frozen=True, slots=True)
class Query:
    namespace: str
    all_namespaces: bool
    label_selector: str
    field_selector: str

    def for_kind(self, kind: Kind) -> dict[str, Any]:
        """Keyword arguments for Client.list/watch."""
        return {
            "namespace": namespace_for(kind, self.namespace),
            "all_namespaces": self.all_namespaces and kind.namespaced,
            "label_selector": self.label_selector,
            "field_selector": self.field_selector,
        }


@dataclass
class Found:
    by_kind: list[tuple[Kind, list[Obj]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def objects(self) -> list[Obj]:
        return [o for _, objs in self.by_kind for o in objs]


def _query(args: argparse.Namespace, session: Session) -> Query:
    return Query(session.namespace, args.all_namespaces, args.selector, args.field_selector)


def run(args: argparse.Namespace, inv: Invocation) -> int:
    session = inv.session
    kinds, refs = parse_refs(args.resources)
    q = _query(args, session)
    if args.watch:
        from mixfleet.mixctl.commands.watch import (
            watch,  # the streaming half lives on its own
        )

        return watch(session, kinds, refs, q, args)

    async def fetch(client: Client) -> Found:
        return await (_get_named(client, refs, q) if refs else _list(client, kinds, q))

    found = session.run(fetch)
    _print(found, kinds, args, q, single=len(refs) == 1)
    for line in found.errors:
        print(line, file=sys.stderr)
    return 1 if found.errors else 0


async def _list(client: Client, kinds: list[Kind], q: Query) -> Found:
    found = Found()
    for kind in kinds:
        items, _ = await client.list(kind.kind, **q.for_kind(kind))
        found.by_kind.append((kind, items))
    return found


async def _get_named(client: Client, refs: list[tuple[Kind, str]], q: Query) -> Found:
    found = Found()
    for kind, name in refs:
        try:
            obj = await client.get(kind.kind, name, namespace_for(kind, q.namespace))
        except NotFoundError:
            found.errors.append(not_found_message(names.plural(kind), name))
            continue
        if found.by_kind and found.by_kind[-1][0] == kind:
            found.by_kind[-1][1].append(obj)
        else:
            found.by_kind.append((kind, [obj]))
    return found


def no_resources_message(kinds: list[Kind], q: Query) -> str:
    if q.all_namespaces or not any(k.namespaced for k in kinds):
        return "No resources found"
    return f"No resources found in {q.namespace} namespace."


def _print(found: Found, kinds: list[Kind], args: argparse.Namespace, q: Query, *, single: bool) -> None:
    objs = found.objects
    if not objs:
        if not found.errors:
            print(no_resources_message(kinds, q), file=sys.stderr)
        return
    if args.output in ("yaml", "json", "name"):
        sys.stdout.write(output.render(args.output, objs, single=single))
        return
    opts = table_options(args, several_kinds=len(found.by_kind) > 1)
    now = utcnow()
    tables = []
    for kind, items in found.by_kind:
        if items:
            tables.append(
                table.render(headers(kind, opts, args), [row(kind, o, opts, args, now=now) for o in
                              sorted(items, key=lambda o: columns.sort_key(kind, o))])
            )
    sys.stdout.write("\n".join(tables))


def table_options(args: argparse.Namespace, *, several_kinds: bool) -> columns.TableOptions:
    return columns.TableOptions(
        wide=args.output == "wide", all_namespaces=args.all_namespaces, kind_prefix=several_kinds
    )


def headers(kind: Kind, opts: columns.TableOptions, args: argparse.Namespace) -> list[str]:
    out = columns.headers(kind, opts)
    return out + ["LABELS"] if args.show_labels else out


def row(kind: Kind, obj: Obj, opts: columns.TableOptions, args: argparse.Namespace, *, now: Any) -> list[str]:
    out = columns.row(kind, obj, opts, now=now)
    if args.show_labels:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        out.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or columns.NONE)
    return out

