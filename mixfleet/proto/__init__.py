"""Generated gRPC code for ``mixfleet.proto`` (``python -m mixfleet.proto.generate``). Only the
gRPC adapters import it (client, control-plane server and log proxy, agent server)."""
