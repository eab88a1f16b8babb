"""Validation errors that say what is wrong and where: file, document index, field path."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  # e.g. "spec.containers[0].resources.requests.cpu"
    message: str  # e.g. 'invalid quantity "abc": ...'
    file: str = ""  # "manifests/web.yaml", "-" for stdin, "" when not from a file
    document: int | None = None  # 1-based index of the YAML document in its file
    object: str = ""  # "Pod/web-0" when known

    def located(self, *, file: str, document: int, object: str = "") -> "FieldError":
        return replace(self, file=file, document=document, object=object or self.object)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.document is not None:
            where.append(f"document {self.document}")
        if self.object:
            where.append(self.object)
        prefix = ": ".join(where)
        loc = f"{self.path}: " if self.path else ""
        return f"{prefix}: {loc}{self.message}" if prefix else f"{loc}{self.message}"


class InvalidObjectError(ValueError):
    """One or more FieldErrors; str() lists them one per line."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
