"""mixctl's commands, one module per command group.

A command module exposes ``register(sub: Subparsers, common: argparse.ArgumentParser)``: it
adds its subparsers (passing ``parents=[common]`` so ``-n``/``--server``/``--context`` work
after the verb too) and sets ``handler=`` to a ``Handler``. To add a command group, write a
module here and list it in ``MODULES``.
"""

from __future__ import annotations

import argparse
from typing import Callable, TypeAlias

from mixctl.session import Invocation

Handler = Callable[[argparse.Namespace, Invocation], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

MODULES: tuple[str, ...] = (
    "mixctl.commands.apply",
    "mixctl.commands.get",
    "mixctl.commands.describe",
    "mixctl.commands.delete",
    "mixctl.commands.logs",
    "mixctl.commands.nodes",  # cordon, uncordon
    "mixctl.commands.scale",
    "mixctl.commands.config",
    "mixctl.commands.rollout",  # status, history, undo (controllers owner)
    "mixctl.commands.drain",  # (controllers owner)
)
