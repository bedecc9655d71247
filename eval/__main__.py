"""``python -m eval``: score the system on the gold sets (see ``eval.run``)."""

import sys

from eval.run import main

sys.exit(main())
