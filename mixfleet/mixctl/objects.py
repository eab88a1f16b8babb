"""Small operations several commands share: naming what the user typed, and the
read-modify-write loop for changing one field of a live object."""

from __future__ import annotations

from typing import Any, Callable

from mixfleet.api.kinds import Kind, lookup
from mixfleet.client import Client, ConflictError, NotFoundError
from mixfleet.mixctl import names
from mixfleet.mixctl.errors import CLIError, not_found_message

CAS_ATTEMPTS = 5


def parse_refs(args: list[str]) -> tuple[list[Kind], list[tuple[Kind, str]]]:
    """What kubectl accepts after a verb: ``KIND[,KIND] [NAME...]`` or ``KIND/NAME...``.

    Returns the kinds and the named objects (empty when only kinds were given)."""
    if not args:
        raise CLIError("error: you must specify the type of resource")
    if "/" in args[0]:
        refs = []
        for a in args:
            kind, sep, name = a.partition("/")
            if not sep or not name:
                raise CLIError(f'error: arguments in resource/name form must have a name: "{a}"')
            refs.append((lookup(kind), name))
        return list(dict.fromkeys(k for k, _ in refs)), refs
    kinds = [lookup(k) for k in args[0].split(",") if k]
    if len(args) > 1 and len(kinds) > 1:
        raise CLIError("error: names can only be given with a single resource type")
    return kinds, [(kinds[0], n) for n in args[1:]]


def namespace_for(kind: Kind, namespace: str) -> str:
    return namespace if kind.namespaced else ""


async def get_or_explain(client: Client, kind: Kind, name: str, namespace: str) -> dict[str, Any]:
    try:
        return await client.get(kind.kind, name, namespace_for(kind, namespace))
    except NotFoundError as e:
        raise CLIError(not_found_message(names.plural(kind), name)) from e


async def mutate(
    client: Client,
    kind: Kind,
    name: str,
    namespace: str,
    change: Callable[[dict[str, Any]], bool],
) -> tuple[dict[str, Any], bool]:
    """Get, apply ``change`` (returns False when nothing needs changing), update with the read
    resourceVersion; on a conflict someone else wrote in between, so read again and retry.
    Returns the final object and whether it was changed."""
    for attempt in range(CAS_ATTEMPTS):
        obj = await get_or_explain(client, kind, name, namespace)
        if not change(obj):
            return obj, False
        try:
            return await client.update(obj), True
        except ConflictError:
            if attempt == CAS_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
