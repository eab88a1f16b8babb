import sys

from mixfleet.cli import main

sys.exit(main())
