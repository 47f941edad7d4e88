"""``python -m skfeat``: the command line (see :mod:`skfeat.cli`)."""

import sys

from .cli import main

sys.exit(main())
