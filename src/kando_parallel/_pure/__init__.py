"""The pure-Python twin of :mod:`kando_parallel._core`.

Each module here has the same names and the same behaviour as the compiled
module of the same name; ``KANDO_PARALLEL_PURE=1`` makes the package use
them.  They are slower, and they are the reference the compiled core is
tested against.
"""
