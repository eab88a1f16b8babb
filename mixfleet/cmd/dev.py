"""`mixfleet dev`: everything on one machine.

The control plane on the embedded store, the scheduler and controllers, a real Linux node
through Docker Engine (the one at DOCKER_HOST or the default socket; else, as root, a private
dockerd started here with the busybox image imported), and the simulated nodes asked for with
``--simulate``. Without any engine it says so and runs the simulated nodes only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from mixfleet.cmd.agents import plan_nodes, run_nodes
from mixfleet.cmd.cli import _controlplane_config
from mixfleet.controlplane.app import ControlPlane
from mixfleet.nodeagent.engines.docker_engine import DEFAULT_URL
from mixfleet.nodeagent.localdockerd import (
    DockerdUnavailable,
    LocalDockerd,
    engine_reachable,
    start_dockerd,
)
from mixfleet.util import log

_log = log.get("dev")
_MAX_SOCKET_PATH = 100  # unix socket paths must fit in 108 bytes


def _dockerd_root(state_dir: Path) -> str:
    root = str((state_dir / "docker").resolve())
    if len(root) + len("/docker.sock") > _MAX_SOCKET_PATH:
        root = f"/tmp/mixfleet-dev-{os.getuid()}"
    return root


async def _private_dockerd(state_dir: Path) -> LocalDockerd | None:
    if os.geteuid() != 0:
        print("mixfleet dev: no Docker Engine and not root: simulated nodes only", file=sys.stderr)
        return None
    try:
        return await asyncio.to_thread(start_dockerd, _dockerd_root(state_dir))
    except (DockerdUnavailable, OSError) as e:
        print(f"mixfleet dev: cannot start dockerd ({e}): simulated nodes only", file=sys.stderr)
        return None


def _state_dir(store_url: str) -> Path:
    """Beside the embedded store's file (``sqlite:///abs/x.db`` or ``sqlite://rel/x.db``)."""
    if store_url.startswith("sqlite://"):
        return Path(store_url[len("sqlite://"):]).parent
    return Path(".mixfleet")


def _loopback_only(args: argparse.Namespace) -> None:
    """`mixfleet dev` serves plaintext without authentication: never beyond this machine."""
    from mixfleet.cmd.cli import _is_loopback

    host, _, port = args.listen.rpartition(":")
    if not _is_loopback(host):
        print(f"mixfleet dev: serving on 127.0.0.1:{port}, not {host}: `mixfleet dev` is plaintext "
              "and unauthenticated, for this machine only", file=sys.stderr)
        args.listen = f"127.0.0.1:{port}"


async def run_dev(args: argparse.Namespace) -> None:
    _loopback_only(args)
    state_dir = _state_dir(args.store)
    state_dir.mkdir(parents=True, exist_ok=True)
    local: LocalDockerd | None = None
    docker_url = None if args.no_docker else _running_engine(args)
    if docker_url is None and not args.no_docker:
        local = await _private_dockerd(state_dir)
        docker_url = local.socket_url if local else None
        args.private_dockerd = local is not None
        args.pod_network = local.network if local else None
    if not args.encryption_key_file:
        args.encryption_key_file = _dev_key_file(state_dir)
    if args.audit_log_path is None:  # heartbeats are writes: keep them out of the console
        args.audit_log_path = str(state_dir / "audit.log")
    cp = ControlPlane(_controlplane_config(args))
    await cp.start()
    if args.port_file:
        Path(args.port_file).write_text(str(cp.port))
    try:
        nodes = plan_nodes(args, docker_url=docker_url)
        _banner(cp, args, [n.name for n in nodes], docker_url)
        await run_nodes(
            cp.address, nodes, heartbeat=args.heartbeat_interval, listen=args.agent_listen,
            disk_paths=(str(state_dir), *args.disk_path),  # the store's disk is the node's too
            root_dir=args.root_dir or str(state_dir / "agents"),  # claims' data outlives a restart
            pod_infra_image=args.pod_infra_image,
        )
    finally:
        await cp.stop()
        if local is not None:
            await asyncio.to_thread(local.stop)


def _dev_key_file(state_dir: Path) -> str:
    """Secrets are sealed on a dev machine too: a key made once beside the store."""
    from mixfleet.store.encrypted import new_key_file

    path = state_dir / "encryption-keys.yaml"
    if not path.exists():
        new_key_file(path, "dev")
    return str(path)


def _running_engine(args: argparse.Namespace) -> str | None:
    """The engine at --docker-host (or the default socket) if one answers."""
    url = args.docker_host or DEFAULT_URL
    return url if engine_reachable(url) else None


def _banner(cp: ControlPlane, args: argparse.Namespace, nodes: list[str], docker: str | None) -> None:
    lines = [
        f"mixfleet dev: control plane at {cp.address} (store {args.store})",
        "  security: PLAINTEXT and unauthenticated, on loopback only: for one machine, not for a "
        "cluster (README: Running a production cluster securely)",
        f"  nodes: {', '.join(nodes) or 'none'}",
        f"  engine: {docker or 'none (simulated nodes only)'}",
        f"  audit log: {args.audit_log_path}",
        f"  try:   mixctl --server {cp.address} apply -f manifests/",
        f"         mixctl --server {cp.address} get pods -o wide",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)

