"""The agent's reads of ConfigMaps and Secrets: Gets by name, shared and kept for a while,
never a list or a watch of every object."""

from __future__ import annotations

import asyncio

from mixfleet.nodeagent.configobjects import ConfigObjects


async def test_concurrent_needs_share_one_get_and_absence_is_not_kept(client):
    """Ten pods needing one ConfigMap at once cost one Get; within the TTL no more; a
    missing object is asked for again next time, so it is seen as soon as it exists."""
    now = [0.0]
    objects = ConfigObjects(client, ttl_seconds=10, clock=lambda: now[0])
    assert await objects.get("ConfigMap", "default", "cfg") is None
    assert await objects.get("ConfigMap", "default", "cfg") is None
    assert objects.gets == 2
    await client.create({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}})
    got = await asyncio.gather(*(objects.get("ConfigMap", "default", "cfg") for _ in range(10)))
    assert all(g is not None and g["data"] == {"a": "1"} for g in got)
    assert objects.gets == 3
    now[0] = 9.0
    await objects.get("ConfigMap", "default", "cfg")
    assert objects.gets == 3
    now[0] = 10.5
    await objects.get("ConfigMap", "default", "cfg")
    assert objects.gets == 4
