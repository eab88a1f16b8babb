"""The kubelet's atomic writer (pkg/volume/util/atomic_writer.go): a volume's files are
written into a fresh timestamped directory, then a ``..data`` symlink is swapped to it in
one rename, so a reader inside a container sees the old set of files or the new one, never
a half-written mix. What users see are top-level symlinks through ``..data``::

    <volume>/..2026_12_04_15_30_00.1234/config.yaml   the files, this version
    <volume>/..data -> ..2026_12_04_15_30_00.1234
    <volume>/config.yaml -> ..data/config.yaml

An unchanged payload writes nothing; the previous version is removed after the swap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Mapping, NamedTuple

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


class File(NamedTuple):
    content: bytes
    mode: int


def payload_problem(path: str) -> str | None:
    """Why ``path`` cannot be a file of a projected volume, or None (the kubelet's rules)."""
    parts = path.split("/")
    if not path or path.startswith("/"):
        return "must be a relative path"
    if ".." in parts:
        return "must not contain '..'"
    if path.startswith(".."):
        return "must not start with '..'"
    return None


def _current(target: Path, payload: Mapping[str, File]) -> bool:
    """Does the version ``..data`` points at hold exactly ``payload``?"""
    data = target / DATA_DIR
    if not data.is_dir():
        return False
    found = {}
    for root, _, files in os.walk(data, followlinks=False):
        for f in files:
            full = Path(root, f)
            found[str(full.relative_to(data))] = full
    if found.keys() != payload.keys():
        return False
    for rel, full in found.items():
        st = full.stat()
        if st.st_mode & 0o7777 != payload[rel].mode or full.read_bytes() != payload[rel].content:
            return False
    return all((target / rel.split("/")[0]).is_symlink() for rel in payload)


def write(target: Path, payload: Mapping[str, File]) -> bool:
    """Make ``target`` hold ``payload`` (relative path -> file); True when it changed."""
    for rel in payload:
        problem = payload_problem(rel)
        if problem:
            raise ValueError(f"invalid path {rel!r}: {problem}")
    target.mkdir(parents=True, exist_ok=True)
    if _current(target, payload):
        return False
    data = target / DATA_DIR
    old = os.readlink(data) if data.is_symlink() else None
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    version = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    for rel, f in payload.items():
        full = version / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(f.content)
        full.chmod(f.mode)
    version.chmod(0o755)
    tmp = target / _DATA_TMP
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(version.name, tmp)
    os.rename(tmp, data)  # the one atomic step: readers switch versions here
    visible = {rel.split("/")[0] for rel in payload}
    for name in visible:
        link = target / name
        if not link.is_symlink():
            os.symlink(f"{DATA_DIR}/{name}", link)
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.name not in visible:
            entry.unlink() if entry.is_symlink() or entry.is_file() else shutil.rmtree(entry)
    if old and old != version.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
