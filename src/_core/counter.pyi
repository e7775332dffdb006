"""Types of :mod:`kando_parallel._core.counter` (see counter.pyx)."""

from typing import Final

from typing_extensions import disjoint_base

__all__ = [
    "BAD_MARKS",
    "LOAD_MAX",
    "LoadCounter",
    "MARK_MAX",
    "PAUSED",
    "RESUMED",
    "check_marks",
]

# Bits of what the mutating methods return.
PAUSED: Final[int]
RESUMED: Final[int]
BAD_MARKS: Final[int]
MARK_MAX: Final[int]
LOAD_MAX: Final[int]

def check_marks(high: int, low: int) -> None: ...
@disjoint_base
class LoadCounter:
    def __init__(
        self, high_water_mark: int, low_water_mark: int
    ) -> None: ...
    def add_load(self, n: int = 1) -> int: ...
    def remove_load(self, n: int = 1) -> int: ...
    def set_water_marks(
        self, high_water_mark: int, low_water_mark: int
    ) -> int: ...
    # The hook a subclass overrides to wake its waiters.
    def _transition(self, flags: int) -> None: ...
    @property
    def current_load(self) -> int: ...
    @property
    def paused(self) -> bool: ...
    @property
    def high_water_mark(self) -> int: ...
    @high_water_mark.setter
    def high_water_mark(self, value: int) -> None: ...
    @property
    def low_water_mark(self) -> int: ...
    @low_water_mark.setter
    def low_water_mark(self, value: int) -> None: ...
