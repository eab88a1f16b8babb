"""The node agent: detects the host's facts, registers and heartbeats its Node, and reconciles
the pods bound to it through a container engine (``engines/``: Docker, or simulated)."""
