"""Entry points: the `mixfleet` command (controlplane, agent, dev) and what only they wire
together (simulated nodes, the dev cluster). The top layer: nothing imports it."""
