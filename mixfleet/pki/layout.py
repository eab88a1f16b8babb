"""The control plane's PKI directory (``mixfleet certs init --dir DIR``), like kubeadm's
/etc/kubernetes/pki::

    ca.crt  ca.key                        the cluster CA (ca.key signs node certificates)
    server.crt  server.key                the control plane's serving certificate (SANs)
    controlplane-client.crt  .key         the control plane's client certificate, with which
                                          it calls node agents (kube's apiserver-kubelet-client)

Keys are written with mode 0600, certificates 0644; nothing is overwritten.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from mixfleet.pki.certs import CA, MASTERS_GROUP, SERVING_DAYS, Issued, ca_hash, make_ca
from mixfleet.pki.material import TLSMaterial, read_pem

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVER_CERT, SERVER_KEY = "server.crt", "server.key"
CP_CLIENT_CERT, CP_CLIENT_KEY = "controlplane-client.crt", "controlplane-client.key"
CONTROLPLANE_USER = "system:mixfleet-controlplane"


class PKIExistsError(FileExistsError):
    pass


def write_private(path: Path, data: bytes) -> None:
    """A new file readable by its owner only (made so from the start, not chmod'ed after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_public(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_pair(directory: Path, cert_name: str, key_name: str, issued: Issued) -> None:
    write_private(directory / key_name, issued.key_pem)
    write_public(directory / cert_name, issued.cert_pem)


@dataclass(frozen=True)
class InitResult:
    directory: Path
    ca_hash: str
    sans: tuple[str, ...]


def init(directory: Path, sans: tuple[str, ...], *, serving_days: int = SERVING_DAYS) -> InitResult:
    """Make the CA, the serving certificate for ``sans`` and the control plane's client
    certificate in ``directory``; refuses (PKIExistsError) if any of them is there."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, CP_CLIENT_CERT, CP_CLIENT_KEY)
    present = [n for n in names if (directory / n).exists()]
    if present:
        raise PKIExistsError(
            f"{directory} already holds {', '.join(present)}: refusing to overwrite a cluster's "
            "certificates (remove them first to start a new cluster)"
        )
    ca_issued = make_ca()
    ca = CA.load(ca_issued.cert_pem, ca_issued.key_pem)
    lifetime = datetime.timedelta(days=serving_days)
    serving = ca.issue_pair(
        common_name="mixfleet-controlplane", sans=sans, server=True, client=False, lifetime=lifetime
    )
    cp_client = ca.issue_pair(common_name=CONTROLPLANE_USER, orgs=(MASTERS_GROUP,), lifetime=lifetime)
    write_pair(directory, CA_CERT, CA_KEY, ca_issued)
    write_pair(directory, SERVER_CERT, SERVER_KEY, serving)
    write_pair(directory, CP_CLIENT_CERT, CP_CLIENT_KEY, cp_client)
    return InitResult(directory, ca_hash(ca_issued.cert_pem), sans)


def load_ca(directory: Path) -> CA:
    return CA.load(read_pem(directory / CA_CERT, "CA certificate"), read_pem(directory / CA_KEY, "CA key"))


@dataclass(frozen=True)
class ServerPKI:
    """What a control-plane replica serves and signs with."""

    ca_pem: bytes
    serving: Issued
    agent_client: TLSMaterial  # for dialling node agents
    signer: CA | None  # None when this replica holds no ca.key: it cannot admit joins

    @property
    def chain(self) -> bytes:
        """The serving certificate and the CA: a joining node reads the CA off the handshake."""
        return self.serving.cert_pem.rstrip(b"\n") + b"\n" + self.ca_pem


def load_server(directory: Path) -> ServerPKI:
    ca_pem = read_pem(directory / CA_CERT, "CA certificate")
    serving = Issued(
        read_pem(directory / SERVER_CERT, "serving certificate"), read_pem(directory / SERVER_KEY, "serving key")
    )
    agent_client = TLSMaterial.from_files(directory / CA_CERT, directory / CP_CLIENT_CERT, directory / CP_CLIENT_KEY)
    signer = load_ca(directory) if (directory / CA_KEY).exists() else None
    return ServerPKI(ca_pem, serving, agent_client, signer)


def missing(directory: Path) -> list[str]:
    """The files a TLS control plane needs that ``directory`` lacks."""
    needed = (CA_CERT, SERVER_CERT, SERVER_KEY, CP_CLIENT_CERT, CP_CLIENT_KEY)
    return [n for n in needed if not (directory / n).is_file()]
