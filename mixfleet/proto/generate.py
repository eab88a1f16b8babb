"""Regenerate the Python gRPC code from mixfleet/proto/mixfleet.proto (run from anywhere:
``python -m mixfleet.proto.generate``). The include root is the repository, so the generated
modules import each other as ``mixfleet.proto.mixfleet_pb2``, through the one import root.

tests/test_proto_current.py fails when the checked-in code is stale.
"""
from __future__ import annotations

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO = pathlib.Path("mixfleet") / "proto" / "mixfleet.proto"


def generate(out_dir: pathlib.Path = ROOT) -> None:
    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(ROOT / PROTO),
        ]
    )
    if rc != 0:
        sys.exit(f"protoc failed with exit code {rc}")


if __name__ == "__main__":
    generate()
