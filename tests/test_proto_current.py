"""The checked-in generated gRPC code matches proto/mixfleet.proto."""

from __future__ import annotations

from pathlib import Path

from mixfleet.proto.generate import PROTO, ROOT, generate


def test_generated_code_is_current(tmp_path: Path) -> None:
    """Regenerating from the .proto gives byte-identical files (else run python -m mixfleet.proto.generate)."""
    generate(tmp_path)
    for name in ("mixfleet_pb2.py", "mixfleet_pb2.pyi", "mixfleet_pb2_grpc.py"):
        fresh = (tmp_path / PROTO.parent / name).read_text()
        checked_in = (ROOT / PROTO.parent / name).read_text()
        assert fresh == checked_in, f"{PROTO.parent / name} is stale: run python -m mixfleet.proto.generate"
