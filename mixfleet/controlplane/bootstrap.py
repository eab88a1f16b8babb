"""The Bootstrap service: a node joins with a bootstrap token and a CSR and gets a client
certificate bound to its name (kubeadm join + the CSR approver + the signer, in one call), and
renews it with its current certificate (the kubelet's certificate rotation).

The certificate is CN ``system:node:NAME``, O ``system:nodes``, with NAME as its DNS name
too: the agent serves its own gRPC port with it, and the control plane dialling the agent
checks the name, so only node NAME can answer for node NAME. The name is the one asked for
at join and, at renewal, the one of the caller's certificate, whatever the CSR says.
"""

from __future__ import annotations

import datetime
from typing import Any

import grpc

from mixfleet.api import names
from mixfleet.controlplane.authn import current_identity
from mixfleet.controlplane.pkirecords import TokenRefusedError, check_token
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry
from mixfleet.pki.certs import CA, CertificateError, load_cert, serial_hex
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.store.base import Store, StoreError
from mixfleet.util import log

_log = log.get("bootstrap")

DEFAULT_NODE_CERT_LIFETIME = datetime.timedelta(days=365)  # kube-controller-manager's signing duration


class BootstrapServicer(pb_grpc.BootstrapServicer):
    def __init__(
        self,
        store: Store,
        signer: CA | None,
        *,
        node_cert_lifetime: datetime.timedelta = DEFAULT_NODE_CERT_LIFETIME,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.node_cert_lifetime = node_cert_lifetime
        self.registry = registry  # to refuse joining as a node that is up (None: no check)

    async def _name_taken(self, node: str) -> bool:
        """A Node of that name is Ready: kubeadm join refuses then, so a token holder cannot
        take over a working node's identity."""
        if self.registry is None:
            return False
        try:
            obj = await self.registry.get("Node", node)
        except ObjectNotFoundError:
            return False
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    async def _sign(self, context: Any, csr: bytes, node: str) -> pb.CertificateResponse:
        if self.signer is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this control-plane replica cannot sign certificates: its PKI directory has no ca.key",
            )
        assert self.signer is not None
        try:
            pem = self.signer.sign_node_csr(csr, node, lifetime=self.node_cert_lifetime)
        except CertificateError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"csr: {e}")
        cert = load_cert(pem)
        _log.info("pki.node_certificate_issued", node=node, serial=serial_hex(cert),
                  not_after=cert.not_valid_after_utc.isoformat())
        return pb.CertificateResponse(certificate=pem, ca=self.signer.cert_pem)

    async def Join(self, request: pb.JoinRequest, context: Any) -> pb.CertificateResponse:
        problems = names.dns_subdomain(request.node_name)
        if problems:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"node_name: {'; '.join(problems)}")
        try:
            token_id = await check_token(self.store, request.token)
        except TokenRefusedError as e:
            _log.info("pki.join_refused", node=request.node_name, reason=str(e))
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"join refused: {e}")
        except StoreError as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable: {e}")
        if await self._name_taken(request.node_name):
            _log.info("pki.join_refused", node=request.node_name, reason="a Ready node has that name")
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f'join refused: a Node named "{request.node_name}" is registered and Ready; delete it '
                f"first (mixctl delete node {request.node_name}) or join under another --node-name",
            )
        _log.info("pki.node_joined", node=request.node_name, token=token_id, peer=context.peer())
        return await self._sign(context, request.csr, request.node_name)

    async def Renew(self, request: pb.RenewRequest, context: Any) -> pb.CertificateResponse:
        caller = current_identity()
        if caller.kind != "node":
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{caller} cannot renew a node certificate: only a node, with its own certificate",
            )
        return await self._sign(context, request.csr, caller.name)
