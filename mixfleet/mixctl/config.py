"""mixctl's config file and how the server and namespace are chosen.

The file is a small YAML cousin of kubeconfig, at ``$MIXCTL_CONFIG`` or ``~/.mixfleet/config``::

    current-context: prod
    contexts:
      - {name: dev, server: 127.0.0.1:7443, namespace: default}
      - name: prod
        server: cp.example.com:7443
        certificate-authority: /home/me/.mixfleet/ca.crt   # TLS: the cluster CA
        client-certificate: /home/me/.mixfleet/admin.crt   # mutual TLS (mixfleet certs admin)
        client-key: /home/me/.mixfleet/admin.key
        # or, instead of a certificate: token: <a bearer token>

A context without ``certificate-authority`` talks plaintext (a `mixfleet dev` on loopback).
The file is written with mode 0600: it names keys and may hold a token.

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
from mixfleet.pki.material import TLSFileError, TLSMaterial

DEFAULT_SERVER = "127.0.0.1:7443"
DEFAULT_NAMESPACE = "default"
CONFIG_ENV = "MIXCTL_CONFIG"
SERVER_ENV = "MIXFLEET_SERVER"


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to reach a context's server: file paths (and a token), as kubeconfig has them."""

    certificate_authority: str = ""
    client_certificate: str = ""
    client_key: str = ""
    token: str = ""

    def tls(self) -> TLSMaterial | None:
        """The TLS material the paths name; None for plaintext (no CA given)."""
        if not self.certificate_authority:
            if self.client_certificate or self.client_key or self.token:
                raise ConfigError("error: a client certificate or token needs certificate-authority "
                                  "in the context (credentials never travel over plaintext)")
            return None
        try:
            return TLSMaterial.from_files(
                self.certificate_authority, self.client_certificate or None, self.client_key or None
            )
        except TLSFileError as e:
            raise ConfigError(f"error: {e}") from None


# The config file's key for each Credentials field.
CREDENTIAL_KEYS = {
    "certificate-authority": "certificate_authority",
    "client-certificate": "client_certificate",
    "client-key": "client_key",
    "token": "token",
}


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    server: str = DEFAULT_SERVER
    namespace: str = DEFAULT_NAMESPACE
    credentials: Credentials = Credentials()


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
    credentials: Credentials = Credentials()


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
        credentials=Credentials(**{f: str(raw.get(k) or "") for k, f in CREDENTIAL_KEYS.items()}),
    )


def _context_data(c: Context) -> dict[str, str]:
    data = {"name": c.name, "server": c.server, "namespace": c.namespace}
    for key, attr in CREDENTIAL_KEYS.items():
        value = getattr(c.credentials, attr)
        if value:
            data[key] = value
    return data


def save(path: Path, config: Config) -> None:
    data = {
        "current-context": config.current_context,
        "contexts": [_context_data(c) for c in config.contexts],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename so a crash never leaves half a config behind; owner-only from
        # the start, as it names keys and may hold a token.
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(yaml.safe_dump(data, sort_keys=False))
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
    return Target(
        server=server, namespace=namespace, context=ctx.name if ctx else "",
        credentials=ctx.credentials if ctx else Credentials(),
    )
