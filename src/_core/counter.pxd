# The lock-free load counter of the backpressure controller.
#
# Ownership: a kp_counter is plain memory owned by whoever embeds it (the
# LoadCounter object here, or a struct of the engine); the functions keep
# no pointer to it and allocate nothing.
#
# Thread safety: every function is atomic with respect to the others on the
# same counter and may run on any number of threads at once, without the
# GIL.  kp_counter_init is the exception: call it once, before the counter
# is shared.

from libc.stdint cimport int64_t

from kando_parallel._core.atomics cimport kp_atomic_i64

# Bits of the value the mutating functions return.
cdef enum:
    KP_PAUSED = 1       # this call moved the counter into the paused state
    KP_RESUMED = 2      # this call moved it out of the paused state
    KP_BAD_MARKS = 4    # the marks asked for were refused; nothing changed

# The largest water mark; the load itself saturates at 2**62 - 1.
cdef enum:
    KP_MARK_MAX = 2147483647

cdef struct kp_counter:
    kp_atomic_i64 state     # (load << 1) | paused
    kp_atomic_i64 marks     # (high << 32) | low

cdef bint kp_marks_valid(int64_t high, int64_t low) noexcept nogil
cdef void kp_counter_init(kp_counter *c, int64_t high,
                          int64_t low) noexcept nogil
cdef int kp_counter_change(kp_counter *c, int64_t delta) noexcept nogil
# A mark given as -1 keeps its current value.
cdef int kp_counter_set_marks(kp_counter *c, int64_t high,
                              int64_t low) noexcept nogil
cdef int64_t kp_counter_load(kp_counter *c) noexcept nogil
cdef bint kp_counter_paused(kp_counter *c) noexcept nogil
cdef int64_t kp_counter_high(kp_counter *c) noexcept nogil
cdef int64_t kp_counter_low(kp_counter *c) noexcept nogil


cdef class LoadCounter:
    cdef kp_counter c
