"""Shared fixtures live in tests/fixtures/, one module per real component."""

pytest_plugins = [
    "tests.fixtures.etcd",
    "tests.fixtures.dockerd",
    "tests.fixtures.controlplane",
    "tests.fixtures.smallfs",
]
