"""Per-client limits key on who is calling (issue 11, item 7: request rate per identity):
over real TLS, a user's requests count together across all its connections, so opening more
connections does not buy more requests, while another user is served meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixfleet.client import APIError, Client
from mixfleet.controlplane.access import tokens
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from tests.security.conftest import PKI


async def test_a_users_connections_share_its_request_rate(tmp_path: Path, pki: PKI) -> None:
    cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}",
                                         listen="127.0.0.1:0", token_listen="127.0.0.1:0",
                                         pki_dir=str(pki.directory), max_requests_per_client=5))
    await cp.start()
    assert cp.store is not None
    greedy_token = await tokens.create(cp.store, "greedy", ("system:masters",))
    other_token = await tokens.create(cp.store, "other", ("system:masters",))
    conns = [Client(cp.token_address, tls=pki.ca_only, retry_seconds=0, token=greedy_token)
             for _ in range(5)]
    other = Client(cp.token_address, tls=pki.ca_only, retry_seconds=0, token=other_token)
    try:
        with pytest.raises(APIError) as refused:
            # The burst is 10: spread over five connections, one user still gets no more.
            for _ in range(4):
                for c in conns:
                    await c.get("Namespace", "default")
        assert "too many requests from this client" in refused.value.message
        assert (await other.get("Namespace", "default"))["metadata"]["name"] == "default"
    finally:
        for c in (*conns, other):
            await c.close()
        await cp.stop()
