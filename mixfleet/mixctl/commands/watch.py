"""``mixctl get -w``: print the current list, then one line per change until Ctrl-C.

Rows keep the column widths of what was printed before (growing when a cell is wider), so
a stream stays readable without buffering. When the server says the revision we watch from
was compacted, we re-list and carry on from the new revision, like an informer.
"""

from __future__ import annotations

import argparse
import sys
from itertools import zip_longest

from mixfleet.api.kinds import Kind
from mixfleet.api.types import Obj
from mixfleet.client import Client, GoneError
from mixfleet.mixctl.commands.get import (
    Query,
    headers,
    no_resources_message,
    row,
    table_options,
)
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.printers import columns, output, table
from mixfleet.mixctl.printers.age import utcnow
from mixfleet.mixctl.session import Session


class _Printer:
    def __init__(self, kind: Kind, args: argparse.Namespace) -> None:
        self.kind, self.args = kind, args
        self.opts = table_options(args, several_kinds=False)
        self.widths: list[int] = []
        self.header_done = False

    def emit(self, objs: list[Obj]) -> None:
        fmt = self.args.output
        if fmt in ("yaml", "json", "name"):
            for o in objs:
                sys.stdout.write(output.render_watch(fmt, o))
            sys.stdout.flush()
            return
        now = utcnow()
        lines = [row(self.kind, o, self.opts, self.args, now=now) for o in objs]
        if not self.header_done:
            lines.insert(0, headers(self.kind, self.opts, self.args))
            self.header_done = True
        new = table.widths(lines)
        self.widths = [max(a, b) for a, b in zip_longest(self.widths, new, fillvalue=0)]
        for line in lines:
            print(table.format_row(line, self.widths))
        sys.stdout.flush()


def _name_filter(q: Query, names: list[str]) -> Query:
    if len(names) != 1:
        return q
    fs = ",".join(s for s in (q.field_selector, f"metadata.name={names[0]}") if s)
    return Query(q.namespace, q.all_namespaces, q.label_selector, fs)


def watch(
    session: Session, kinds: list[Kind], refs: list[tuple[Kind, str]], q: Query, args: argparse.Namespace
) -> int:
    if len(kinds) != 1:
        raise CLIError("error: you may only specify a single resource type to watch")
    kind = kinds[0]
    names = [n for _, n in refs]
    q = _name_filter(q, names)
    printer = _Printer(kind, args)

    def wanted(o: Obj) -> bool:
        return not names or (o.get("metadata") or {}).get("name") in names

    async def go(client: Client) -> None:
        items, rev = await client.list(kind.kind, **q.for_kind(kind))
        items = sorted(filter(wanted, items), key=lambda o: columns.sort_key(kind, o))
        if items:
            printer.emit(items)
        else:
            print(no_resources_message(kinds, q), file=sys.stderr, flush=True)
        while True:
            try:
                async for ev in client.watch(kind.kind, from_revision=rev + 1, **q.for_kind(kind)):
                    rev = max(rev, ev.revision)
                    if ev.type != "BOOKMARK" and wanted(ev.object):
                        printer.emit([ev.object])
                return
            except GoneError:
                _, rev = await client.list(kind.kind, **q.for_kind(kind))

    try:
        session.run(go)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    return 0
