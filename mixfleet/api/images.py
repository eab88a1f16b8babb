"""Image references, normalised the way Docker does (distribution's ``reference`` package):
``nginx``, ``library/nginx``, ``docker.io/library/nginx`` and ``docker.io/library/nginx:latest``
name one image; a reference without a tag or digest means ``:latest``; a digest
(``@sha256:...``) pins the content. The one place that reads image names: the scheduler's
image locality, the node agent's "is it present" check and the engines compare the
canonical form.

Written here rather than taken from a library: the one Python port of the grammar
(docker-image-py 0.2) fails on digest-only references and drops the tag from the short
form, and the Docker SDK's ``parse_repository_tag`` only splits at the last colon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_REPO = "library"

# distribution/reference's grammar (regexp.go), anchored per part.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_MAX_NAME = 255


class ImageRefError(ValueError):
    """Not a reference Docker would accept; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    domain: str  # docker.io, mcr.microsoft.com, 127.0.0.1:5000
    path: str  # library/nginx, windows/servercore
    tag: str | None  # None only when a digest pins the image
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/nginx``: the repository, fully qualified."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """``nginx``: the repository as ``docker images`` shows it."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        prefix = OFFICIAL_REPO + "/"
        return self.path[len(prefix):] if self.path.startswith(prefix) else self.path

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        """``docker.io/library/nginx:latest``: the canonical form two references compare by."""
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """``nginx:latest``: the short form Docker prints in its messages."""
        return self.familiar_name + self._suffix()


def parse(ref: str) -> ImageRef:
    """A reference as Docker reads it (``ParseNormalizedNamed`` + default tag ``latest``)."""
    if not isinstance(ref, str) or not ref:
        raise ImageRefError(f"invalid image reference {ref!r}: must be a non-empty string")
    rest, _, digest = ref.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ImageRefError(f'invalid image reference "{ref}": bad digest "{digest}"')
    name, tag = rest, None
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:  # a colon before the last slash is a registry port, not a tag
        name, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise ImageRefError(f'invalid image reference "{ref}": bad tag "{tag}"')
    domain, path = _split_domain(name, ref)
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise ImageRefError(f'invalid image reference "{ref}": name longer than {_MAX_NAME} characters')
    if tag is None and not digest:
        tag = "latest"
    return ImageRef(domain, path, tag, digest or None)


def _split_domain(name: str, ref: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    # Docker's rule: the first component is a registry when it looks like a host.
    if sep and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        domain, path = first, remainder
        if not _DOMAIN.fullmatch(domain):
            raise ImageRefError(f'invalid image reference "{ref}": bad registry "{domain}"')
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"{OFFICIAL_REPO}/{path}"
    if not _PATH.fullmatch(path):
        why = "must be lowercase" if path != path.lower() else "bad repository name"
        raise ImageRefError(f'invalid image reference "{ref}": {why} "{path}"')
    return domain, path


@lru_cache(maxsize=65536)
def normalize(ref: str) -> str:
    """The canonical form (``docker.io/library/nginx:latest``) to compare references by. A name
    that is no valid reference (an engine may report ``<none>:<none>``) is kept as it is, so
    it only ever equals itself."""
    try:
        return str(parse(ref))
    except ImageRefError:
        return ref


def familiar(ref: str) -> str:
    """The short form Docker prints (``nginx:latest``); an invalid reference as it is."""
    try:
        return parse(ref).familiar
    except ImageRefError:
        return ref
