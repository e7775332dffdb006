# The lock-free token bucket behind the rate limiter (GCRA).
#
# Ownership: a kp_bucket is plain memory owned by whoever embeds it (the
# TokenBucket object here, or a struct of the engine); the functions keep no
# pointer to it and allocate nothing.
#
# Thread safety: interval, tolerance and origin are written once by
# kp_bucket_init, before the bucket is shared, and only read afterwards;
# tat is changed only by compare-and-swap.  Every other function may run on
# any number of threads at once, without the GIL.  Times are int64
# nanoseconds of one monotonic clock (kp_monotonic_ns, or any clock the
# owner chooses, as long as every call on one bucket uses the same one).

from libc.stdint cimport int64_t

from kando_parallel._core.atomics cimport kp_atomic_i64

# Times inside the bucket are fixed point: 2**KP_FRAC_BITS units a ns.
cdef enum:
    KP_FRAC_BITS = 4

# Results of kp_bucket_take and kp_bucket_reserve besides a delay >= 0.
cdef enum:
    KP_BUCKET_CLOSED = -1   # the bucket was closed: it admits nothing
    KP_BUCKET_TOO_LATE = -2 # the tokens come later than max_wait allows

cdef struct kp_bucket:
    kp_atomic_i64 tat       # theoretical arrival time, fixed point
    int64_t interval        # fixed-point time a token takes to refill
    int64_t tolerance       # burst * interval
    int64_t origin          # clock reading at creation, in ns

# Returns 0, or -1 when rate and burst do not fit (nothing is written).
cdef int kp_bucket_init(kp_bucket *b, double rate, int64_t burst,
                        int64_t now) noexcept nogil

# Takes n tokens (1 <= n <= burst) and returns 0, or takes nothing and
# returns the delay in ns after which they would be there (>= 1), or
# KP_BUCKET_CLOSED.
cdef int64_t kp_bucket_take(kp_bucket *b, int64_t n,
                            int64_t now) noexcept nogil

# Reserves n tokens whatever the delay, unless it exceeds max_wait (then
# nothing is reserved and the result is KP_BUCKET_TOO_LATE); returns the
# delay in ns (>= 0) and stores in *ticket what kp_bucket_cancel needs.
cdef int64_t kp_bucket_reserve(kp_bucket *b, int64_t n, int64_t now,
                               int64_t max_wait,
                               int64_t *ticket) noexcept nogil

# Gives back the n tokens of a reservation if no later reservation or take
# depends on them; returns whether it did.
cdef bint kp_bucket_cancel(kp_bucket *b, int64_t n,
                           int64_t ticket) noexcept nogil

# Whole tokens available at time now (0 once closed).
cdef int64_t kp_bucket_available(kp_bucket *b, int64_t now) noexcept nogil

# From now on the bucket admits nothing.
cdef void kp_bucket_close(kp_bucket *b) noexcept nogil


cdef class TokenBucket:
    cdef kp_bucket b
    cdef object clock
    cdef readonly double rate
    cdef readonly int64_t burst
