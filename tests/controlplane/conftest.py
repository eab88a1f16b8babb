"""The control plane's caches hand out frozen objects in these tests, so a reader that
changes a shared object instead of a copy fails here (controlplane/objects.py)."""

import os

os.environ.setdefault("MIXFLEET_FROZEN_CACHES", "1")
