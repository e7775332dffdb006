"""Integer arguments of the pure twins, checked as the compiled core does.

The twin of ``src/_core/ints.pxd``: integers only (``operator.index``, so
a float is a TypeError) and within int64, else OverflowError, which is
what Cython's conversion to ``int64_t`` raises.
"""

import operator
from typing import SupportsIndex

INT64_MAX = 2**63 - 1


def as_int64(value: SupportsIndex) -> int:
    """``value`` as an int64, or TypeError / OverflowError."""
    value = operator.index(value)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise OverflowError("value too large to convert to int64_t")
    return value
