"""Reading manifests the way ``mixctl apply -f`` takes them: files, directories and stdin;
YAML (block or flow style, several documents per file) or JSON; ``kind: List`` expanded.

Every document is defaulted and validated, and every problem in every file is reported in
one ``ManifestError``, each located as ``file: document N: Kind/name: field: message``.
When anything is wrong nothing is returned, so the caller applies nothing.

Exceptions::

    ValueError
     └── InvalidObjectError (api.errors)
          └── ManifestError        .errors: list[FieldError]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO

import yaml

from mixfleet.api import bounds, limits, objects, schema, strictjson
from mixfleet.api.defaults import DEFAULT_NAMESPACE, apply_defaults
from mixfleet.api.errors import FieldError, InvalidObjectError
from mixfleet.api.kinds import UnknownKindError, by_kind
from mixfleet.api.validation import validate

SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(InvalidObjectError):
    """Every problem found across all the manifests given, one FieldError each."""


@dataclass(frozen=True)
class Document:
    source: str  # the file as the user named it, "-" for stdin
    index: int  # 1-based document index within the file
    obj: dict[str, Any]  # defaulted and valid


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps timestamps as strings (objects are JSON), rejects duplicate
    keys (PyYAML would silently keep the last one), and stops composing a document nested
    deeper than MAX_NESTING_DEPTH (PyYAML recurses per level: 10,000 levels took seconds,
    then a bare RecursionError)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > limits.MAX_NESTING_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"document refused: nested more than {limits.MAX_NESTING_DEPTH} deep",
                    self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping keys must be strings, got {schema.type_name(key)}", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate key "{key}"', key_node.start_mark)
        seen[key] = True
    # Keys are strings or scalars JSON turns into strings (_plain).
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[assignment]
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(paths: list[str], *, stdin: TextIO | None = None, recursive: bool = False,
         namespace: str | None = None, default_namespace: str | None = None) -> list[Document]:
    """Valid, defaulted documents from ``paths`` (files, directories, "-" for stdin), in
    order. ``namespace`` (like ``kubectl -n``) goes to namespaced objects without one, and
    an object naming a different namespace is an error; ``default_namespace`` (a context's)
    only fills in a missing one. Raises ManifestError."""
    docs: list[Document] = []
    errs: list[FieldError] = []
    for source, text in _sources(paths, stdin=stdin, recursive=recursive, errs=errs):
        for index, raw in _documents(source, text, errs):
            for obj in _expand(raw, source, index, errs):
                defaulted = apply_defaults(
                    obj, namespace=namespace or default_namespace or DEFAULT_NAMESPACE
                )
                doc_errs = _check(obj, defaulted, namespace)
                if doc_errs:
                    errs.extend(e.located(file=source, document=index, object=objects.describe(obj))
                                for e in doc_errs)
                else:
                    docs.append(Document(source, index, defaulted))
    if errs:
        raise ManifestError(errs)
    return docs


def _sources(paths: list[str], *, stdin: TextIO | None, recursive: bool,
             errs: list[FieldError]) -> Iterator[tuple[str, str]]:
    for given in paths:
        if given == "-":
            yield "-", (stdin or sys.stdin).read()
            continue
        path = Path(given)
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files = sorted(p for p in found if p.is_file() and p.suffix in SUFFIXES)
        else:
            files = [path]
        for f in files:
            source = given if f is path else str(f)
            try:
                yield source, f.read_text(encoding="utf-8")
            except FileNotFoundError:
                errs.append(FieldError("", "no such file or directory", file=source))
            except (OSError, UnicodeDecodeError) as e:
                errs.append(FieldError("", f"cannot read: {e}", file=source))


def _documents(source: str, text: str, errs: list[FieldError]) -> Iterator[tuple[int, Any]]:
    """(1-based index, parsed document); empty documents are skipped but keep their number.
    A document too deep or too large (an alias bomb) is an error, and so is a file above
    MAX_MANIFEST_BYTES: nothing walks them."""
    if len(text) > limits.MAX_MANIFEST_BYTES:
        errs.append(FieldError("", f"file is larger than {limits.mebibytes(limits.MAX_MANIFEST_BYTES)}",
                               file=source))
        return
    if source.endswith(".json"):
        try:
            yield from _bounded(source, 1, strictjson.loads(text), errs)
        except strictjson.DuplicateKeyError as e:
            errs.append(FieldError("", str(e), file=source, document=1))
        except json.JSONDecodeError as e:
            errs.append(FieldError("", f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                                   file=source, document=1))
        except RecursionError:
            errs.append(_too_deep(source, 1))
        return
    index = 0
    try:
        for index, doc in enumerate(yaml.load_all(text, Loader=_Loader), start=1):  # noqa: S506
            if doc is not None:
                yield from _bounded(source, index, doc, errs)
    except yaml.YAMLError as e:
        errs.append(_yaml_error(source, index + 1, e))
    except RecursionError:  # the YAML composer recurses once per level
        errs.append(_too_deep(source, index + 1))


def _bounded(source: str, index: int, doc: Any, errs: list[FieldError]) -> Iterator[tuple[int, Any]]:
    try:
        bounds.check(doc)
    except bounds.TooLargeError as e:
        errs.append(FieldError("", f"document refused: {e}", file=source, document=index))
        return
    yield index, doc


def _too_deep(source: str, index: int) -> FieldError:
    return FieldError("", f"document refused: nested more than {limits.MAX_NESTING_DEPTH} deep",
                      file=source, document=index)


def _yaml_error(source: str, index: int, e: yaml.YAMLError) -> FieldError:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    what = f"{context}: {problem}" if context and "duplicate" not in problem else problem
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return FieldError("", f"invalid YAML{where}: {what}", file=source, document=index)


def _expand(raw: Any, source: str, index: int, errs: list[FieldError]) -> list[dict[str, Any]]:
    """A document as objects: itself, or the items of a ``kind: List``."""
    where: dict[str, Any] = {"file": source, "document": index}
    if not isinstance(raw, dict):
        got = schema.type_name(raw)
        errs.append(FieldError("", f"a document must be a map with apiVersion and kind, got {got}", **where))
        return []
    if raw.get("kind") != "List":
        items, path, label = [raw], "", ""
    elif isinstance(raw.get("items"), list):
        items, path, label = raw["items"], "items", "List"
    else:
        errs.append(FieldError("items", "must be a list", object="List", **where))
        return []
    out = []
    for i, it in enumerate(items):
        at = f"{path}[{i}]" if path else ""
        if not isinstance(it, dict):
            errs.append(FieldError(at, "must be a map", object=label, **where))
            continue
        try:
            out.append(_plain(it))
        except (TypeError, ValueError) as e:
            errs.append(FieldError(at, f"not representable as JSON: {e}", object=label or objects.describe(it), **where))
    return out


def _plain(obj: dict[str, Any]) -> dict[str, Any]:
    """A JSON-shaped copy (as Kubernetes converts YAML to JSON: number and boolean keys become
    strings); YAML anchors no longer share dicts between objects."""
    plain: dict[str, Any] = json.loads(json.dumps(obj, default=str))
    return plain


def _check(obj: dict[str, Any], defaulted: dict[str, Any], namespace: str | None) -> list[FieldError]:
    errs = validate(defaulted)
    given = objects.namespace(obj)
    if namespace and given and given != namespace and _namespaced(obj):
        errs.append(FieldError("metadata.namespace", f'"{given}" does not match the namespace "{namespace}" '
                                                     "given on the command line"))
    return errs


def _namespaced(obj: dict[str, Any]) -> bool:
    try:
        return by_kind(obj.get("kind", "")).namespaced
    except (UnknownKindError, TypeError):
        return False
