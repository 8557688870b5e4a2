"""The kit's command line: `python -m blueprints --help`."""

import os
import sys

from blueprints.cli import main

try:
    sys.exit(main())
except BrokenPipeError:  # output piped into e.g. `head`: not an error of ours
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)
