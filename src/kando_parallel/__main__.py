"""``python -m kando_parallel``: the ``kando-parallel`` command."""

import sys

from kando_parallel.cli import main

if __name__ == "__main__":
    sys.exit(main())
