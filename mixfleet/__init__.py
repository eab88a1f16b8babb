"""Mixfleet: a cluster orchestrator for mixed Linux and Windows nodes.

One import root; the parts, bottom layer first (docs/ARCHITECTURE.md draws them, and the
import-linter contracts in pyproject.toml keep them):

- ``util``: structured logging, asyncio helpers;
- ``api``: the domain core (objects, validation, quantities, selectors, versions, image
  references, pod facts, timestamps) and ``proto``: the generated gRPC code;
- ``client`` (the API's gRPC client), ``scheduler`` (pure placement), ``store`` (SQLite, etcd);
- ``controlplane``, ``nodeagent``, ``mixctl``: the three programs' insides;
- ``cmd``: the entry points.
"""
