/*
 * atomics.h: the few atomic operations the core needs, on 64-bit signed
 * integers, with one path per compiler family.
 *
 * GCC and Clang use the __atomic builtins; MSVC uses the _Interlocked
 * intrinsics (full barriers, which are at least as strong as asked for);
 * any other C11 compiler falls back to <stdatomic.h>.  Every operation is
 * sequentially consistent unless its name says relaxed: the callers are
 * reference counts, id counters, the load counter and the token bucket,
 * none of which is hot enough for weaker orderings to matter more than a
 * simple rule a reader can check.
 *
 * A kp_atomic_i64 must be 8-byte aligned; every struct in the core that
 * holds one puts it first or after other 8-byte fields.
 */
#ifndef KP_ATOMICS_H
#define KP_ATOMICS_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)

typedef int64_t kp_atomic_i64;

static inline int64_t kp_atomic_load(kp_atomic_i64 *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline int64_t kp_atomic_load_relaxed(kp_atomic_i64 *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void kp_atomic_store(kp_atomic_i64 *p, int64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/* Adds delta and returns the value from before the addition. */
static inline int64_t kp_atomic_fetch_add(kp_atomic_i64 *p, int64_t delta)
{
    return __atomic_fetch_add(p, delta, __ATOMIC_SEQ_CST);
}

/* If *p equals *expected, stores desired and returns 1; otherwise copies
 * the current value into *expected and returns 0. */
static inline int kp_atomic_cas(kp_atomic_i64 *p, int64_t *expected,
                                int64_t desired)
{
    return __atomic_compare_exchange_n(p, expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#elif defined(_MSC_VER)

#include <intrin.h>

typedef volatile __int64 kp_atomic_i64;

static __forceinline int64_t kp_atomic_load(kp_atomic_i64 *p)
{
    return _InterlockedCompareExchange64(p, 0, 0);
}

static __forceinline int64_t kp_atomic_load_relaxed(kp_atomic_i64 *p)
{
    return _InterlockedCompareExchange64(p, 0, 0);
}

static __forceinline void kp_atomic_store(kp_atomic_i64 *p, int64_t v)
{
    _InterlockedExchange64(p, v);
}

static __forceinline int64_t kp_atomic_fetch_add(kp_atomic_i64 *p,
                                                 int64_t delta)
{
    return _InterlockedExchangeAdd64(p, delta);
}

static __forceinline int kp_atomic_cas(kp_atomic_i64 *p, int64_t *expected,
                                       int64_t desired)
{
    int64_t seen = _InterlockedCompareExchange64(p, desired, *expected);
    if (seen == *expected) {
        return 1;
    }
    *expected = seen;
    return 0;
}

#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L \
    && !defined(__STDC_NO_ATOMICS__)

#include <stdatomic.h>

typedef _Atomic int64_t kp_atomic_i64;

static inline int64_t kp_atomic_load(kp_atomic_i64 *p)
{
    return atomic_load(p);
}

static inline int64_t kp_atomic_load_relaxed(kp_atomic_i64 *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

static inline void kp_atomic_store(kp_atomic_i64 *p, int64_t v)
{
    atomic_store(p, v);
}

static inline int64_t kp_atomic_fetch_add(kp_atomic_i64 *p, int64_t delta)
{
    return atomic_fetch_add(p, delta);
}

static inline int kp_atomic_cas(kp_atomic_i64 *p, int64_t *expected,
                                int64_t desired)
{
    return atomic_compare_exchange_strong(p, expected, desired);
}

#else
#error "kando-parallel needs GCC, Clang, MSVC or a C11 compiler with atomics"
#endif

#endif /* KP_ATOMICS_H */
