"""`mixfleet agent`: runs this host's node agent (through its Docker Engine) and any simulated
nodes asked for with ``--simulate``, all in one process against one control plane."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from mixfleet.api import quantity
from mixfleet.client import Client
from mixfleet.cmd.simspec import SimulatedNodeSpec, parse_all
from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.certmanager import NodeCredentials
from mixfleet.nodeagent.engines.base import Engine
from mixfleet.nodeagent.engines.docker_engine import DEFAULT_URL, DockerEngine
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.facts import HostFacts
from mixfleet.nodeagent.localdockerd import engine_reachable
from mixfleet.nodeagent.runner import run_node
from mixfleet.util import log
from mixfleet.util.aio import run_together

_log = log.get("agents")


@dataclass(frozen=True)
class NodePlan:
    name: str
    engine: Engine
    facts: HostFacts | None  # None: detect from the real host


def simulated_node(spec: SimulatedNodeSpec) -> NodePlan:
    parts = spec.version.split(".")
    windows = spec.os == "windows"
    engine = SimulatedEngine(
        os=spec.os,
        build=int(parts[2]) if windows else 0,
        revision=int(parts[3]) if windows else 0,
        edition=spec.edition,
        hyperv=spec.hyperv,
        cpu=max(1, quantity.cpu_millis(spec.cpu) // 1000),
        memory=quantity.memory_bytes(spec.memory),
        hostname=spec.name,
        kernel_version=spec.version if not windows else "6.1.0-18-amd64",
    )
    return NodePlan(spec.name, engine, engine.host_facts())


def real_node_name(explicit: str | None) -> str:
    return (explicit or socket.gethostname()).lower().split(".")[0]


def plan_nodes(args: argparse.Namespace, *, docker_url: str | None) -> list[NodePlan]:
    """The nodes this process runs: the real one when an engine answers, plus simulated."""
    nodes = [simulated_node(s) for s in parse_all(args.simulate)]
    if docker_url:
        # A private dockerd has no default bridge: its pods go on its own network.
        network = getattr(args, "pod_network", None)
        engine = DockerEngine(base_url=docker_url, network_mode=network)
        nodes.insert(0, NodePlan(real_node_name(args.node_name), engine, None))
    return nodes


def docker_url_from_args(args: argparse.Namespace) -> str | None:
    """The engine to use for the real node, or None (said once, clearly) when there is none."""
    if args.no_docker:
        return None
    url = args.docker_host or DEFAULT_URL
    if engine_reachable(url):
        return url
    print(
        f"mixfleet: no Docker Engine answers at {url}: running simulated nodes only",
        file=sys.stderr,
    )
    return None


async def run_nodes(
    server: str,
    nodes: list[NodePlan],
    *,
    heartbeat: float,
    listen: str,
    disk_paths: tuple[str, ...] = (),
    credentials: dict[str, NodeCredentials] | None = None,
    root_dir: str = "",
    pod_infra_image: str = "",
) -> None:
    """Run the planned nodes' agents. ``disk_paths`` set the real node's DiskPressure (with
    its engine's data root); simulated nodes have no disk of their own. ``credentials``:
    each node's certificate (mutual TLS, one connection per node, since each is its own
    identity); None: one plaintext connection for all (a loopback control plane).
    ``root_dir`` holds each node's volumes and claims' data in a directory named after it
    ("": a temp dir).
    ``pod_infra_image`` is the real node's sandbox image (simulated nodes use their host's
    default)."""
    if not nodes:
        raise SystemExit("mixfleet agent: no nodes to run (no engine, and no --simulate)")
    host = listen.rsplit(":", 1)[0]
    async with contextlib.AsyncExitStack() as stack:
        shared = None if credentials else await stack.enter_async_context(Client(server, retry_seconds=60))

        async def client_for(name: str) -> Client:
            if shared is not None:
                return shared
            assert credentials is not None
            tls = credentials[name].current
            return await stack.enter_async_context(Client(server, retry_seconds=60, tls=tls))

        nodes_running = [
            run_node(
                await client_for(n.name),
                n.engine,
                n.name,
                # The port asked for is the first node's (the real one); the others take
                # free ports, each its own: logs and exec reach a node at its own endpoint.
                listen=listen if i == 0 else f"{host}:0",
                advertise_host=host if host not in ("0.0.0.0", "[::]") else "127.0.0.1",
                facts=n.facts,
                config=AgentConfig(
                    heartbeat_seconds=heartbeat, disk_paths=disk_paths if n.facts is None else (),
                    root_dir=os.path.join(root_dir, n.name) if root_dir else "",
                    pod_infra_image=pod_infra_image if n.facts is None else "",
                ),
                credentials=credentials[n.name] if credentials else None,
            )
            for i, n in enumerate(nodes)
        ]
        _log.info("agents.started", nodes=[n.name for n in nodes], server=server, tls=bool(credentials))
        try:
            await run_together(*nodes_running)
        finally:
            for n in nodes:
                await n.engine.close()


def bootstrap_target(server: str, explicit: str | None) -> str:
    """Where to join: --bootstrap-server, else the control plane's port + 1 (its TLS port
    without client certificates, --token-listen's default)."""
    if explicit:
        return explicit
    first = server.split("///")[-1].split(",")[0].removeprefix("ipv4:")
    host, _, port = first.rpartition(":")
    return f"{host}:{int(port) + 1}" if port.isdigit() else first


async def node_credentials(args: argparse.Namespace, nodes: list[NodePlan]) -> dict[str, NodeCredentials]:
    """Each node's certificate from --cert-dir, joining with --join/--ca-hash those without."""
    out: dict[str, NodeCredentials] = {}
    for n in nodes:
        creds = NodeCredentials(Path(args.cert_dir) / n.name, n.name)
        if creds.load() is not None and creds.expired() and args.join:
            # Down past its certificate's end (the kubelet falls back to its bootstrap
            # credentials then): join again with the token given.
            _log.warning("node.certificate_expired", node=n.name, action="joining again with --join")
            creds.current = None
        if creds.current is None:
            if not args.join or not args.ca_hash:
                raise StartupError(
                    f"node {n.name} has no certificate in {creds.directory}: join the cluster with "
                    "--join TOKEN --ca-hash sha256:... (from `mixfleet token create` and `mixfleet certs "
                    "hash` on a control-plane host), or pass --insecure for a plaintext control plane "
                    "on loopback"
                )
            await creds.join(bootstrap_target(args.server, args.bootstrap_server), token=args.join,
                             ca_hash=args.ca_hash)
        out[n.name] = creds
    return out


class StartupError(Exception):
    pass


async def run_agents(args: argparse.Namespace) -> None:
    nodes = plan_nodes(args, docker_url=docker_url_from_args(args))
    credentials = None
    if args.insecure:
        print(f"mixfleet agent: --insecure: plaintext, unauthenticated connection to {args.server}",
              file=sys.stderr, flush=True)
        _log.warning("agent.insecure", server=args.server)
    else:
        credentials = await node_credentials(args, nodes)
    await run_nodes(
        args.server, nodes, heartbeat=args.heartbeat_interval, listen=args.agent_listen,
        disk_paths=tuple(args.disk_path), credentials=credentials, root_dir=args.root_dir,
        pod_infra_image=args.pod_infra_image,
    )
