"""A tiny local test image built without a registry: a static busybox and its applets,
imported as ``mixfleet/busybox:latest``. Used by the test fixtures and by ``mixfleet dev``."""

from __future__ import annotations

import io
import shutil
import tarfile

import docker

from mixfleet.api import images as image_ref
from mixfleet.util import log

_log = log.get("nodeagent.images")

BUSYBOX_TAG = "mixfleet/busybox:latest"
BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")
APPLETS = (
    "sh",
    "sleep",
    "echo",
    "cat",
    "httpd",
    "ls",
    "env",
    "true",
    "false",
    "kill",
    "ps",
    "wget",
    "nc",
    "hostname",
    "date",
    "printf",
    "test",
    "yes",
    "head",
    "tail",
    "mkdir",
    "rm",
)


class BusyboxMissing(RuntimeError):
    pass


def find_busybox() -> str:
    for path in BUSYBOX_PATHS:
        if shutil.which(path):
            return path
    raise BusyboxMissing(
        f"no static busybox at {' or '.join(BUSYBOX_PATHS)} (apt install busybox-static)"
    )


def busybox_rootfs_tar(
    busybox: str,
    applets: tuple[str, ...] = APPLETS,
    dirs: tuple[str, ...] = ("bin", "tmp", "etc", "proc", "sys", "dev", "www"),
) -> bytes:
    """A rootfs tar: /bin/busybox, one symlink per applet, and the usual empty dirs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
    return buf.getvalue()


def import_busybox_image(client: docker.DockerClient, tag: str = BUSYBOX_TAG) -> str:
    """Import the busybox rootfs into the engine as ``tag`` (with ``CMD ["sh"]``); returns the
    image id."""
    ref = image_ref.parse(tag)
    data = busybox_rootfs_tar(find_busybox())
    result = client.api.import_image_from_data(
        data, repository=ref.familiar_name, tag=ref.tag or "latest", changes=['CMD ["sh"]', "ENV PATH=/bin"]
    )
    image = client.images.get(tag)
    _log.info("images.imported", tag=tag, id=image.id, result=str(result)[:200])
    return str(image.id)
