"""mixctl's config file and how the server and namespace are chosen.

The file is a small YAML cousin of kubeconfig, at ``$MIXCTL_CONFIG`` or ``~/.mixfleet/config``::

    current-context: dev
    contexts:
      - {name: dev, server: 127.0.0.1:7443, namespace: default}

Precedence (highest first), for the server:
  1. ``--server ADDR``
  2. ``--context NAME`` (a flag naming a context: that context's server)
  3. ``$MIXFLEET_SERVER``
  4. the config file's ``current-context``
  5. ``127.0.0.1:7443``
and for the namespace: ``-n NS``, then the chosen context's namespace, then ``default``.
In short: flags > environment > config file > built-in default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import yaml

from mixfleet.mixctl.errors import ConfigError

DEFAULT_SERVER = "127.0.0.1:7443"
DEFAULT_NAMESPACE = "default"
CONFIG_ENV = "MIXCTL_CONFIG"
SERVER_ENV = "MIXFLEET_SERVER"


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    server: str = DEFAULT_SERVER
    namespace: str = DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class Config:
    current_context: str = ""
    contexts: tuple[Context, ...] = field(default_factory=tuple)

    def context(self, name: str) -> Context:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        raise ConfigError(f'error: no context exists with the name: "{name}"')

    def with_context(self, ctx: Context) -> "Config":
        """A copy where ``ctx`` replaces the context of the same name, or is appended."""
        others = tuple(c for c in self.contexts if c.name != ctx.name)
        if len(others) == len(self.contexts):
            return replace(self, contexts=self.contexts + (ctx,))
        return replace(
            self, contexts=tuple(ctx if c.name == ctx.name else c for c in self.contexts)
        )


@dataclass(frozen=True, slots=True)
class Target:
    """Where this invocation talks to: resolved once, read by every command."""

    server: str
    namespace: str
    context: str = ""  # the context used, "" when none


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path(env.get("HOME") or Path.home()) / ".mixfleet" / "config"


def load(path: Path) -> Config:
    """The config at ``path``; an empty Config when the file does not exist."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return Config()
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"error: cannot read config {path}: {e}") from e
    if raw is None:
        return Config()
    if not isinstance(raw, dict):
        raise ConfigError(f"error: config {path}: expected a mapping at the top level")
    return Config(
        current_context=str(raw.get("current-context") or ""),
        contexts=tuple(_context(path, i, c) for i, c in enumerate(raw.get("contexts") or [])),
    )


def _context(path: Path, index: int, raw: object) -> Context:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise ConfigError(f"error: config {path}: contexts[{index}]: needs a name")
    return Context(
        name=str(raw["name"]),
        server=str(raw.get("server") or DEFAULT_SERVER),
        namespace=str(raw.get("namespace") or DEFAULT_NAMESPACE),
    )


def save(path: Path, config: Config) -> None:
    data = {
        "current-context": config.current_context,
        "contexts": [
            {"name": c.name, "server": c.server, "namespace": c.namespace}
            for c in config.contexts
        ],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename so a crash never leaves half a config behind.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
        tmp.replace(path)
    except OSError as e:
        raise ConfigError(f"error: cannot write config {path}: {e}") from e


def resolve(
    config: Config,
    *,
    server_flag: str | None,
    context_flag: str | None,
    namespace_flag: str | None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Apply the precedence in the module docstring."""
    env = os.environ if environ is None else environ
    ctx: Context | None = None
    if context_flag:
        ctx = config.context(context_flag)
    elif config.current_context:
        ctx = config.context(config.current_context)
    if server_flag:
        server = server_flag
    elif context_flag and ctx is not None:
        server = ctx.server
    elif env.get(SERVER_ENV):
        server = env[SERVER_ENV]
    elif ctx is not None:
        server = ctx.server
    else:
        server = DEFAULT_SERVER
    namespace = namespace_flag or (ctx.namespace if ctx else DEFAULT_NAMESPACE)
    return Target(server=server, namespace=namespace, context=ctx.name if ctx else "")
