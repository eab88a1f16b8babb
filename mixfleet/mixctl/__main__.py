"""``python -m mixfleet.mixctl``: the same entry point as the ``mixctl`` console script."""

import sys

from mixfleet.mixctl.main import main

sys.exit(main())
