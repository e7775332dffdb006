# Conversion of the integer arguments of the core's Python-facing methods.
#
# It works on Python objects, so it needs the GIL; it keeps no reference.
# Integers only, as operator.index takes them: a float is a TypeError (a
# plain int64_t argument would truncate it), so the compiled modules and
# their pure twins refuse the same arguments.

from cpython.number cimport PyNumber_Index
from libc.stdint cimport int64_t


cdef inline int64_t as_int64(object n) except? -1:
    if not isinstance(n, int):
        n = PyNumber_Index(n)
    return n
