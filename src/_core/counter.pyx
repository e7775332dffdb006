# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False, auto_pickle=False
"""The lock-free load counter behind the backpressure controller.

Design note.  The whole state is two 64-bit words.  ``state`` packs the
load and the paused flag as ``(load << 1) | paused``, so that one
compare-and-swap moves both: no reader ever sees a load that contradicts
the flag.  ``marks`` packs the high and low water marks as
``(high << 32) | low``, so a pair of marks is replaced at once.

Invariants: ``0 <= load <= 2**62 - 1`` (changes clamp at zero and
saturate at the top); ``0 <= low < high <= 2**31 - 1``; after every change
of the load or of the marks, ``load >= high`` implies paused and
``load <= low`` implies not paused (zero load is therefore never paused),
and between the marks the flag keeps its previous value (hysteresis).  A
change that raced a change of the marks re-evaluates with the marks it
finds afterwards, so the last writer always leaves the flag right for the
marks in force.

Cost: a change is one atomic load of each word and one compare-and-swap,
retried only under contention.  No lock, no allocation, no GIL.
"""

from libc.stdint cimport int64_t

from kando_parallel._core.atomics cimport (
    kp_atomic_cas,
    kp_atomic_load,
    kp_atomic_store,
)
from kando_parallel._core.ints cimport as_int64

PAUSED = KP_PAUSED
RESUMED = KP_RESUMED
BAD_MARKS = KP_BAD_MARKS
MARK_MAX = KP_MARK_MAX
LOAD_MAX = (1 << 62) - 1

cdef int64_t load_max = LOAD_MAX


cdef inline int64_t low_of(int64_t marks) noexcept nogil:
    return marks & ((<int64_t>1 << 32) - 1)


cdef inline int64_t pack_marks(int64_t high, int64_t low) noexcept nogil:
    return (high << 32) | low


cdef inline int64_t next_state(int64_t state, int64_t delta,
                               int64_t marks) noexcept nogil:
    cdef int64_t load = state >> 1
    cdef bint paused = state & 1
    cdef int64_t high = marks >> 32
    cdef int64_t low = low_of(marks)

    if delta > 0:
        load = load_max if delta > load_max - load else load + delta
    elif delta < 0:
        load = 0 if delta <= -load else load + delta

    if load >= high:
        paused = True
    elif load <= low:
        paused = False
    return (load << 1) | paused


cdef inline int transition(int64_t old, int64_t new) noexcept nogil:
    if (old & 1) == (new & 1):
        return 0
    return KP_PAUSED if new & 1 else KP_RESUMED


cdef bint kp_marks_valid(int64_t high, int64_t low) noexcept nogil:
    return 0 <= low < high <= KP_MARK_MAX


cdef void kp_counter_init(kp_counter *c, int64_t high,
                          int64_t low) noexcept nogil:
    kp_atomic_store(&c.state, 0)
    kp_atomic_store(&c.marks, pack_marks(high, low))


cdef int kp_counter_change(kp_counter *c, int64_t delta) noexcept nogil:
    cdef int64_t marks
    cdef int64_t old
    cdef int64_t new
    cdef int flags = 0

    while True:
        marks = kp_atomic_load(&c.marks)
        old = kp_atomic_load(&c.state)
        new = next_state(old, delta, marks)
        if not kp_atomic_cas(&c.state, &old, new):
            continue
        flags |= transition(old, new)

        # The marks moved while this change was computed: evaluate the
        # level again, with no change of load, against the new marks.
        if kp_atomic_load(&c.marks) == marks:
            return flags
        delta = 0


cdef int kp_counter_set_marks(kp_counter *c, int64_t high,
                              int64_t low) noexcept nogil:
    cdef int64_t marks = kp_atomic_load(&c.marks)
    cdef int64_t want_high
    cdef int64_t want_low

    while True:
        want_high = marks >> 32 if high < 0 else high
        want_low = low_of(marks) if low < 0 else low
        if not kp_marks_valid(want_high, want_low):
            return KP_BAD_MARKS
        if kp_atomic_cas(&c.marks, &marks, pack_marks(want_high, want_low)):
            break

    return kp_counter_change(c, 0)


cdef int64_t kp_counter_load(kp_counter *c) noexcept nogil:
    return kp_atomic_load(&c.state) >> 1


cdef bint kp_counter_paused(kp_counter *c) noexcept nogil:
    return kp_atomic_load(&c.state) & 1


cdef int64_t kp_counter_high(kp_counter *c) noexcept nogil:
    return kp_atomic_load(&c.marks) >> 32


cdef int64_t kp_counter_low(kp_counter *c) noexcept nogil:
    return low_of(kp_atomic_load(&c.marks))


def check_marks(high, low):
    """Raise ValueError unless ``0 <= low < high <= 2**31 - 1``."""
    if not 0 <= low < high <= KP_MARK_MAX:
        raise ValueError(
            "water marks need 0 <= low < high <= 2**31 - 1, got "
            f"high={high!r}, low={low!r}"
        )


cdef class LoadCounter:
    """A load level with high and low water marks and a paused flag.

    Parameters
    ----------
    high_water_mark : int
        The load at which the counter pauses (``1 <= high <= 2**31 - 1``).
    low_water_mark : int
        The load at or below which it resumes (``0 <= low < high``).

    Notes
    -----
    Every mutating method returns the transitions it caused: ``PAUSED``,
    ``RESUMED``, both or neither (0), and when that is not 0 it also calls
    ``self._transition(flags)``, which does nothing here and which a
    subclass overrides to wake its waiters.

    Examples
    --------
    >>> c = LoadCounter(8, 2)
    >>> c.add_load(8) == PAUSED, c.paused
    (True, True)
    >>> c.remove_load(5), c.current_load, c.paused
    (0, 3, True)
    >>> c.remove_load(1) == RESUMED, c.paused
    (True, False)
    """

    def __init__(self, high_water_mark, low_water_mark):
        check_marks(high_water_mark, low_water_mark)
        kp_counter_init(&self.c, high_water_mark, low_water_mark)

    def add_load(self, n=1):
        """Add ``n >= 0`` to the load; return the transitions caused."""
        cdef int64_t k = as_int64(n)
        cdef int flags

        if k < 0:
            raise ValueError(f"add_load needs n >= 0, got {n}")
        flags = kp_counter_change(&self.c, k)
        if flags:
            self._transition(flags)
        return flags

    def remove_load(self, n=1):
        """Remove ``n >= 0`` from the load, clamping it at zero."""
        cdef int64_t k = as_int64(n)
        cdef int flags

        if k < 0:
            raise ValueError(f"remove_load needs n >= 0, got {n}")
        flags = kp_counter_change(&self.c, -k)
        if flags:
            self._transition(flags)
        return flags

    def set_water_marks(self, high_water_mark, low_water_mark):
        """Replace both marks at once and re-evaluate the paused flag.

        Examples
        --------
        >>> c = LoadCounter(80, 20)
        >>> _ = c.add_load(50)
        >>> c.set_water_marks(40, 10) == PAUSED
        True
        """
        cdef int flags

        check_marks(high_water_mark, low_water_mark)
        flags = kp_counter_set_marks(&self.c, high_water_mark,
                                     low_water_mark)
        if flags:
            self._transition(flags)
        return flags

    def _set_one_mark(self, int64_t high, int64_t low):
        cdef int flags = kp_counter_set_marks(&self.c, high, low)

        if flags & KP_BAD_MARKS:
            raise ValueError(
                f"water marks need 0 <= low < high <= 2**31 - 1; "
                f"now high={kp_counter_high(&self.c)}, "
                f"low={kp_counter_low(&self.c)}"
            )
        if flags:
            self._transition(flags)
        return flags

    def _transition(self, int flags):
        """Called after a change that paused or resumed; does nothing."""

    @property
    def current_load(self):
        """The load now."""
        return kp_counter_load(&self.c)

    @property
    def paused(self):
        """True while the load has not yet fallen back to the low mark."""
        return kp_counter_paused(&self.c)

    @property
    def high_water_mark(self):
        """The load at which the counter pauses; settable."""
        return kp_counter_high(&self.c)

    @high_water_mark.setter
    def high_water_mark(self, value):
        check_marks(value, 0)
        self._set_one_mark(value, -1)

    @property
    def low_water_mark(self):
        """The load at or below which the counter resumes; settable."""
        return kp_counter_low(&self.c)

    @low_water_mark.setter
    def low_water_mark(self, value):
        check_marks(value + 1, value)
        self._set_one_mark(-1, value)


__all__ = [
    "BAD_MARKS",
    "LOAD_MAX",
    "LoadCounter",
    "MARK_MAX",
    "PAUSED",
    "RESUMED",
    "check_marks",
]
