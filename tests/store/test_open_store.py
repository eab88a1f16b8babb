"""open_store picks the backend from a URL and says clearly what is wrong with a bad one."""

from __future__ import annotations

import pytest

from mixfleet.store import open_store
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.etcd import EtcdStore


@pytest.mark.parametrize(
    "url,path",
    [
        pytest.param("sqlite:///var/lib/mixfleet/state.db", "/var/lib/mixfleet/state.db", id="sqlite-abs"),
        pytest.param("sqlite://state.db", "state.db", id="sqlite-relative"),
        pytest.param("data/state.db", "data/state.db", id="plain-path"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    """SQLite URLs and plain .db paths open an EmbeddedStore on that file."""
    store = open_store(url)
    assert isinstance(store, EmbeddedStore) and store.path == path


@pytest.mark.parametrize(
    "url,endpoints,prefix",
    [
        pytest.param("etcd://h1:2379,h2:2379/fleet", ["h1:2379", "h2:2379"], "/fleet", id="two-hosts-prefix"),
        pytest.param("etcd://127.0.0.1:2379", ["127.0.0.1:2379"], "/mixfleet", id="default-prefix"),
        pytest.param("etcd://h1:2379/a/b/", ["h1:2379"], "/a/b", id="nested-prefix"),
    ],
)
def test_etcd_urls(url: str, endpoints: list[str], prefix: str) -> None:
    """etcd URLs give an EtcdStore with every endpoint and the prefix (default /mixfleet)."""
    store = open_store(url)
    assert isinstance(store, EtcdStore)
    assert (store.endpoints, store.prefix) == (endpoints, prefix)


@pytest.mark.parametrize(
    "url,message",
    [
        pytest.param("mysql://db/x", "unsupported store URL", id="unknown-scheme"),
        pytest.param("state.txt", "unsupported store URL", id="not-a-db-path"),
        pytest.param("etcd:///prefix", "names no etcd endpoint", id="etcd-no-host"),
        pytest.param("etcd://h1/prefix", "must be host:port", id="etcd-no-port"),
        pytest.param("sqlite://", "no database path", id="sqlite-no-path"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    """A bad URL raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        open_store(url)
