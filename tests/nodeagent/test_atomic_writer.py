"""The kubelet's atomic writer: a volume's files switch versions in one rename."""

from __future__ import annotations

import os

import pytest

from mixfleet.nodeagent.volumes.atomic_writer import DATA_DIR, File, write


def test_files_are_links_through_data_to_one_version(tmp_path):
    """Each top-level name is a symlink through ..data into the timestamped version."""
    assert write(tmp_path, {"a": File(b"1", 0o644), "dir/b": File(b"2", 0o600)}) is True
    version = os.readlink(tmp_path / DATA_DIR)
    assert version.startswith("..") and (tmp_path / version).is_dir()
    assert os.readlink(tmp_path / "a") == f"{DATA_DIR}/a"
    assert (tmp_path / "dir" / "b").read_bytes() == b"2"
    assert (tmp_path / "dir" / "b").stat().st_mode & 0o777 == 0o600


def test_unchanged_payload_writes_nothing(tmp_path):
    """Writing the same files again keeps the same version."""
    files = {"a": File(b"1", 0o644)}
    write(tmp_path, files)
    before = os.readlink(tmp_path / DATA_DIR)
    assert write(tmp_path, files) is False
    assert os.readlink(tmp_path / DATA_DIR) == before
    assert write(tmp_path, {"a": File(b"1", 0o600)}) is True  # a mode change is a change


def test_new_version_replaces_the_old_and_drops_removed_keys(tmp_path):
    """After an update only the new version is left, and keys gone from the payload are gone."""
    write(tmp_path, {"a": File(b"1", 0o644), "b": File(b"x", 0o644)})
    old = os.readlink(tmp_path / DATA_DIR)
    write(tmp_path, {"a": File(b"2", 0o644)})
    assert (tmp_path / "a").read_bytes() == b"2"
    assert not os.path.lexists(tmp_path / "b")
    assert not (tmp_path / old).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == ["a"]


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../../b", "..hidden"])
def test_paths_leaving_the_volume_are_refused(tmp_path, path):
    """A file path that is absolute, climbs out, or starts with '..' is never written."""
    with pytest.raises(ValueError):
        write(tmp_path / "v", {path: File(b"", 0o644)})
    assert not (tmp_path / "v").exists() or list((tmp_path / "v").iterdir()) == []
