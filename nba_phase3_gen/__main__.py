"""`python -m nba_phase3_gen --db PATH [--seasons N] [--start-season Y] [--seed S] [--until D]`."""

import sys

from .cli import main

sys.exit(main())
