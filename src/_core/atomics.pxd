# Declarations of atomics.h for Cython modules of the core.
#
# Ownership: the functions work on memory the caller owns; they allocate
# nothing and keep no pointer.  Thread safety: every operation is atomic
# and sequentially consistent (the relaxed load is atomic but unordered),
# and none needs the GIL.

from libc.stdint cimport int64_t

cdef extern from "atomics.h" nogil:
    ctypedef int64_t kp_atomic_i64

    int64_t kp_atomic_load(kp_atomic_i64 *p) noexcept
    int64_t kp_atomic_load_relaxed(kp_atomic_i64 *p) noexcept
    void kp_atomic_store(kp_atomic_i64 *p, int64_t v) noexcept
    int64_t kp_atomic_fetch_add(kp_atomic_i64 *p, int64_t delta) noexcept
    int kp_atomic_cas(kp_atomic_i64 *p, int64_t *expected,
                      int64_t desired) noexcept
