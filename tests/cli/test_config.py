"""Config file contexts and the precedence of flags, environment and config."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixfleet.mixctl import config as cfg
from mixfleet.mixctl.errors import ConfigError

CONF = cfg.Config(
    current_context="dev",
    contexts=(
        cfg.Context("dev", "127.0.0.1:7000", "dev-ns"),
        cfg.Context("prod", "10.0.0.1:7443", "prod-ns"),
    ),
)


@pytest.mark.parametrize(
    ("flags", "env", "conf", "server", "namespace"),
    [
        pytest.param({}, {}, cfg.Config(), "127.0.0.1:7443", "default", id="defaults"),
        pytest.param({}, {}, CONF, "127.0.0.1:7000", "dev-ns", id="current-context"),
        pytest.param({}, {"MIXFLEET_SERVER": "h:1"}, CONF, "h:1", "dev-ns", id="env-beats-context"),
        pytest.param({"context_flag": "prod"}, {"MIXFLEET_SERVER": "h:1"}, CONF, "10.0.0.1:7443", "prod-ns",
                     id="context-flag-beats-env"),
        pytest.param({"server_flag": "s:2", "context_flag": "prod"}, {"MIXFLEET_SERVER": "h:1"}, CONF, "s:2",
                     "prod-ns", id="server-flag-beats-all"),
        pytest.param({"namespace_flag": "x"}, {}, CONF, "127.0.0.1:7000", "x", id="namespace-flag"),
    ],
)
def test_precedence(flags: dict, env: dict, conf: cfg.Config, server: str, namespace: str) -> None:
    """Flags beat the environment, which beats the config file, which beats the default."""
    kwargs = {"server_flag": None, "context_flag": None, "namespace_flag": None, **flags}
    target = cfg.resolve(conf, environ=env, **kwargs)
    assert (target.server, target.namespace) == (server, namespace)


def test_unknown_context_is_a_clear_error() -> None:
    """Naming a context that does not exist says so."""
    with pytest.raises(ConfigError, match='no context exists with the name: "nope"'):
        cfg.resolve(CONF, server_flag=None, context_flag="nope", namespace_flag=None, environ={})


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """What is saved is read back the same; a missing file is an empty config."""
    path = tmp_path / "sub" / "config"
    assert cfg.load(path) == cfg.Config()
    cfg.save(path, CONF)
    assert cfg.load(path) == CONF


def test_config_path_from_env(tmp_path: Path) -> None:
    """$MIXCTL_CONFIG wins; otherwise ~/.mixfleet/config."""
    assert cfg.config_path({"MIXCTL_CONFIG": str(tmp_path / "c")}) == tmp_path / "c"
    assert cfg.config_path({"HOME": str(tmp_path)}) == tmp_path / ".mixfleet" / "config"


def test_malformed_config_is_a_clear_error(tmp_path: Path) -> None:
    """A broken file is reported with its path, not a YAML traceback."""
    path = tmp_path / "config"
    path.write_text("contexts: [ {name: a\n")
    with pytest.raises(ConfigError, match=str(path)):
        cfg.load(path)
