"""mixctl's commands, one module per command group.

A command module exposes ``register(sub: Subparsers, common: argparse.ArgumentParser)``: it
adds its subparsers (passing ``parents=[common]`` so ``-n``/``--server``/``--context`` work
after the verb too) and sets ``handler=`` to a ``Handler``. To add a command group, write a
module here and list it in ``MODULES``.
"""

from __future__ import annotations

import argparse
from typing import Callable, TypeAlias

from mixfleet.mixctl.session import Invocation

Handler = Callable[[argparse.Namespace, Invocation], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

MODULES: tuple[str, ...] = (
    "mixfleet.mixctl.commands.apply",
    "mixfleet.mixctl.commands.create",  # secret generic|docker-registry, configmap
    "mixfleet.mixctl.commands.get",
    "mixfleet.mixctl.commands.describe",
    "mixfleet.mixctl.commands.delete",
    "mixfleet.mixctl.commands.logs",
    "mixfleet.mixctl.commands.exec",
    "mixfleet.mixctl.commands.nodes",  # cordon, uncordon
    "mixfleet.mixctl.commands.scale",
    "mixfleet.mixctl.commands.config",
    "mixfleet.mixctl.commands.auth",  # can-i, whoami
    "mixfleet.mixctl.commands.rollout",  # status, history, undo (controllers owner)
    "mixfleet.mixctl.commands.drain",  # (controllers owner)
)
