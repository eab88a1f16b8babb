"""``python -m mixfleet``: the same entry point as the ``mixfleet`` console script."""

import sys

from mixfleet.cmd.cli import main

sys.exit(main())
