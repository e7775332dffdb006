/*
 * clock.h: a monotonic clock in integer nanoseconds.
 *
 * The token bucket and every deadline in the core count time in int64
 * nanoseconds: 2**63 ns is 292 years, so arithmetic on it never overflows
 * in practice and never loses precision the way a double of seconds does
 * after a long uptime.  The clock never goes backwards; its epoch is
 * arbitrary (boot, usually), so only differences mean anything.
 *
 * POSIX systems (Linux, macOS 10.12+, the BSDs) use clock_gettime with
 * CLOCK_MONOTONIC; Windows uses QueryPerformanceCounter, scaled without
 * overflowing the 64-bit product.  Safe to call without the GIL.
 */
#ifndef KP_CLOCK_H
#define KP_CLOCK_H

#include <stdint.h>

#if defined(_WIN32)

/* Only what QueryPerformanceCounter needs: no min/max macros, no GDI
 * (whose ERROR, OPAQUE and the like would shadow names in the core). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef NOGDI
#define NOGDI
#endif
#include <windows.h>

static inline int64_t kp_monotonic_ns(void)
{
    LARGE_INTEGER frequency;
    LARGE_INTEGER now;
    int64_t whole;
    int64_t part;

    /* The frequency is fixed at boot: asking on every call is cheap and
     * spares a cache that several threads would write at once. */
    QueryPerformanceFrequency(&frequency);
    QueryPerformanceCounter(&now);

    whole = now.QuadPart / frequency.QuadPart;
    part = now.QuadPart % frequency.QuadPart;
    return whole * 1000000000LL
        + part * 1000000000LL / frequency.QuadPart;
}

#else

#include <time.h>

static inline int64_t kp_monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + (int64_t)now.tv_nsec;
}

#endif

#endif /* KP_CLOCK_H */
