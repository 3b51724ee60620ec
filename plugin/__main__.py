import sys

from leanspike.cli import main

sys.exit(main())
