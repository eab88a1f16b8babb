"""How a gMSA credential spec reaches Docker on Windows. Docker takes it as the security
option ``credentialspec=file://NAME``, NAME a file under ``<DockerRootDir>\\CredentialSpecs``
(read when the container starts), or ``registry://VALUE`` (a value under
HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\Containers\\CredentialSpecs,
which the kubelet's dockershim wrote). Mixfleet writes files: every Docker release on Windows
reads them, and an agent needs no registry access. The name is the content's hash, so one
spec used by many containers is one file, a changed spec is a new file, and a file is never
removed from under a container that may start again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DIRECTORY = "CredentialSpecs"
OPTION = "credentialspec="


def file_name(document: str) -> str:
    return f"mixfleet-{hashlib.sha256(document.encode()).hexdigest()[:32]}.json"


def security_option(document: str) -> str:
    return f"{OPTION}file://{file_name(document)}"


def write(data_root: str, document: str) -> Path:
    """The document in Docker's CredentialSpecs folder (written atomically: a container
    starting meanwhile reads the whole file or none)."""
    folder = Path(data_root) / DIRECTORY
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(document)
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(document, encoding="utf-8")
        os.replace(tmp, path)
    return path
