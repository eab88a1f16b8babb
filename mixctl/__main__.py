"""``python -m mixctl``: the same entry point as the ``mixctl`` console script."""

import sys

from mixctl.main import main

sys.exit(main())
