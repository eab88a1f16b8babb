"""Certificates: making the cluster CA, issuing serving and client certificates, signing
CSRs, reading them back. Every key is ECDSA P-256 (what kubeadm and the kubelet use for new
keys: small, fast, universally supported by TLS stacks)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MASTERS_GROUP = "system:masters"  # cluster-admin, as in Kubernetes

CA_DAYS = 3650  # kubeadm: 10 years
SERVING_DAYS = 365  # kubeadm: 1 year
CLIENT_DAYS = 365
_BACKDATE = datetime.timedelta(minutes=5)  # clocks of joining hosts may lag a little


class CertificateError(ValueError):
    """A certificate, key or CSR that is malformed or not acceptable; says why."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(common_name: str = "mixfleet-ca", *, days: int = CA_DAYS) -> Issued:
    """A self-signed cluster CA."""
    key = new_key()
    now = _now()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))


@dataclass(frozen=True)
class CA:
    """The cluster CA, able to sign."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, cert_pem: bytes, key_pem_: bytes) -> "CA":
        cert = load_cert(cert_pem)
        try:
            key = serialization.load_pem_private_key(key_pem_, password=None)
        except (ValueError, TypeError) as e:
            raise CertificateError(f"the CA key is not a readable PEM private key: {e}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CertificateError("the CA key is not an ECDSA key")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
            raise CertificateError("the CA key does not belong to the CA certificate")
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        *,
        common_name: str,
        orgs: tuple[str, ...] = (),
        sans: tuple[str, ...] = (),
        server: bool = False,
        client: bool = True,
        lifetime: datetime.timedelta = datetime.timedelta(days=CLIENT_DAYS),
    ) -> x509.Certificate:
        now = _now()
        not_after = min(now + lifetime, self.cert.not_valid_after_utc)  # never outlive the CA
        # Backdated for clocks that lag a little, but by no more than a tenth of a short
        # lifetime: the rotation deadline is a share of notBefore..notAfter.
        backdate = min(_BACKDATE, max(lifetime, datetime.timedelta(0)) / 10)
        usages = [
            *([ExtendedKeyUsageOID.SERVER_AUTH] if server else []),
            *([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []),
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, orgs))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now - backdate, not_after))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_encipherment=False, content_commitment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(_sans(sans)), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_pair(self, **kwargs: object) -> Issued:
        """A new key and a certificate for it (``issue``'s keyword arguments)."""
        key = new_key()
        cert = self.issue(key.public_key(), **kwargs)  # type: ignore[arg-type]
        return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))

    def sign_node_csr(self, csr_pem: bytes, node_name: str, *, lifetime: datetime.timedelta) -> bytes:
        """A node client certificate for a CSR, bound to ``node_name`` whatever the CSR's
        subject says (like the kubelet-serving CSR approver, the name is the cluster's to
        give, not the requester's)."""
        csr = load_csr(csr_pem)
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CertificateError("the CSR's key must be ECDSA (P-256)")
        # Also a serving certificate for the name: the agent's own gRPC port presents it.
        cert = self.issue(
            key, common_name=NODE_PREFIX + node_name, orgs=(NODES_GROUP,), sans=(node_name,),
            server=True, client=True, lifetime=lifetime,
        )
        return cert.public_bytes(serialization.Encoding.PEM)


def _sans(sans: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for s in sans:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(s)))
        except ValueError:
            out.append(x509.DNSName(s))
    return out


def make_csr(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name, (NODES_GROUP,)))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise CertificateError(f"not a PEM certificate: {e}") from None


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as e:
        raise CertificateError(f"not a PEM certificate signing request: {e}") from None
    if not csr.is_signature_valid:
        raise CertificateError("the CSR's signature does not verify")
    return csr


def ca_hash(cert_pem: bytes) -> str:
    """kubeadm's discovery hash: ``sha256:`` and the hex SHA-256 of the certificate's
    DER SubjectPublicKeyInfo."""
    spki = load_cert(cert_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def normalise_hash(text: str) -> str:
    """``sha256:HEX`` in lower case; CertificateError for anything else."""
    algo, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if not sep or algo.lower() != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise CertificateError(f"--ca-hash must be sha256:<64 hex digits>, got {text!r}")
    return "sha256:" + digest


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def lifetime_fraction(cert: x509.Certificate, now: datetime.datetime | None = None) -> float:
    """How much of the certificate's validity has passed (0 at issue, 1 at expiry)."""
    now = now or _now()
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    total = (end - start).total_seconds()
    return 1.0 if total <= 0 else (now - start).total_seconds() / total
