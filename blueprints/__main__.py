"""The kit's command line: `python -m blueprints --help`."""

import sys

from blueprints.cli import main

sys.exit(main())
