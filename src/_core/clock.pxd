# Declaration of clock.h: the monotonic clock of the core, in integer
# nanoseconds.  It reads a system clock and touches no shared state, so it
# is safe from any thread and needs no GIL.

from libc.stdint cimport int64_t

cdef extern from "clock.h" nogil:
    int64_t kp_monotonic_ns() noexcept
