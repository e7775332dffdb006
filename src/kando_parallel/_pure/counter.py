"""Pure-Python twin of :mod:`kando_parallel._core.counter`.

Design note.  The same two words as the compiled counter: ``_state`` packs
``(load << 1) | paused`` and ``_marks`` packs ``(high << 32) | low``.  A
``threading.Lock`` stands in for the compare-and-swap, so every change is
atomic; the invariants are those of the compiled module (load clamped to
``[0, 2**62 - 1]``, ``0 <= low < high <= 2**31 - 1``, the flag right for
the marks after every change, zero load never paused).  Cost: one lock
round trip a change.
"""

import threading

from . import _ints

PAUSED = 1
RESUMED = 2
BAD_MARKS = 4

MARK_MAX = 2**31 - 1
LOAD_MAX = 2**62 - 1


def _low_of(marks: int) -> int:
    return marks & 0xFFFFFFFF


def _next_state(state: int, delta: int, marks: int) -> int:
    load = min(max((state >> 1) + delta, 0), LOAD_MAX)
    paused = state & 1

    if load >= marks >> 32:
        paused = 1
    elif load <= _low_of(marks):
        paused = 0
    return (load << 1) | paused


def _transition(old: int, new: int) -> int:
    if (old & 1) == (new & 1):
        return 0
    return PAUSED if new & 1 else RESUMED


def check_marks(high: int, low: int) -> None:
    """Raise ValueError unless ``0 <= low < high <= 2**31 - 1``."""
    if not 0 <= low < high <= MARK_MAX:
        raise ValueError(
            "water marks need 0 <= low < high <= 2**31 - 1, got "
            f"high={high!r}, low={low!r}"
        )


class LoadCounter:
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

    def __init__(self, high_water_mark: int, low_water_mark: int) -> None:
        check_marks(high_water_mark, low_water_mark)
        self._lock = threading.Lock()
        self._state = 0
        self._marks = (high_water_mark << 32) | low_water_mark

    def _change(self, delta: int) -> int:
        with self._lock:
            old = self._state
            self._state = _next_state(old, delta, self._marks)
            return _transition(old, self._state)

    def add_load(self, n: int = 1) -> int:
        """Add ``n >= 0`` to the load; return the transitions caused."""
        n = _ints.as_int64(n)
        if n < 0:
            raise ValueError(f"add_load needs n >= 0, got {n}")
        flags = self._change(n)
        if flags:
            self._transition(flags)
        return flags

    def remove_load(self, n: int = 1) -> int:
        """Remove ``n >= 0`` from the load, clamping it at zero."""
        n = _ints.as_int64(n)
        if n < 0:
            raise ValueError(f"remove_load needs n >= 0, got {n}")
        flags = self._change(-n)
        if flags:
            self._transition(flags)
        return flags

    def set_water_marks(
        self, high_water_mark: int, low_water_mark: int
    ) -> int:
        """Replace both marks at once and re-evaluate the paused flag.

        Examples
        --------
        >>> c = LoadCounter(80, 20)
        >>> _ = c.add_load(50)
        >>> c.set_water_marks(40, 10) == PAUSED
        True
        """
        check_marks(high_water_mark, low_water_mark)
        flags = self._set_marks(high_water_mark, low_water_mark)
        if flags:
            self._transition(flags)
        return flags

    def _set_marks(self, high: int, low: int) -> int:
        with self._lock:
            marks = self._marks
            high = marks >> 32 if high < 0 else high
            low = _low_of(marks) if low < 0 else low
            if not 0 <= low < high <= MARK_MAX:
                return BAD_MARKS
            self._marks = (high << 32) | low
            old = self._state
            self._state = _next_state(old, 0, self._marks)
            return _transition(old, self._state)

    def _set_one_mark(self, high: int, low: int) -> int:
        flags = self._set_marks(_ints.as_int64(high), _ints.as_int64(low))

        if flags & BAD_MARKS:
            raise ValueError(
                f"water marks need 0 <= low < high <= 2**31 - 1; "
                f"now high={self.high_water_mark}, "
                f"low={self.low_water_mark}"
            )
        if flags:
            self._transition(flags)
        return flags

    def _transition(self, flags: int) -> None:
        """Called after a change that paused or resumed; does nothing."""

    @property
    def current_load(self) -> int:
        """The load now."""
        return self._state >> 1

    @property
    def paused(self) -> bool:
        """True while the load has not yet fallen back to the low mark."""
        return bool(self._state & 1)

    @property
    def high_water_mark(self) -> int:
        """The load at which the counter pauses; settable."""
        return self._marks >> 32

    @high_water_mark.setter
    def high_water_mark(self, value: int) -> None:
        check_marks(value, 0)
        self._set_one_mark(value, -1)

    @property
    def low_water_mark(self) -> int:
        """The load at or below which the counter resumes; settable."""
        return _low_of(self._marks)

    @low_water_mark.setter
    def low_water_mark(self, value: int) -> None:
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
