"""The control plane: the gRPC API server (``server.py``) over the registry (``registry.py``:
the one validated write path to the store), the watch cache, and the leader-only loops
(``scheduling.py``, ``controllers/``)."""
