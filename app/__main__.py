"""``python -m leanspike.app``: the ``leanspike`` command."""

import sys

from leanspike.app.cli import main

sys.exit(main())
