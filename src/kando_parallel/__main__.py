"""``python -m kando_parallel``: the ``kando-parallel`` command."""

from kando_parallel.cli import console_main

if __name__ == "__main__":
    console_main()
