"""Filter and score plugins, one job each; ``scheduler/registry.py`` wires them in order."""
