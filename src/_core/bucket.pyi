"""Types of :mod:`kando_parallel._core.bucket` (see bucket.pyx)."""

from collections.abc import Callable
from typing import Final

from typing_extensions import disjoint_base

__all__ = [
    "CLOSED",
    "FRAC_BITS",
    "TOO_LATE",
    "TokenBucket",
    "monotonic_ns",
]

FRAC_BITS: Final[int]
# Results of try_acquire_ns and reserve besides a delay >= 0.
CLOSED: Final[int]
TOO_LATE: Final[int]

def monotonic_ns() -> int: ...
@disjoint_base
class TokenBucket:
    @property
    def rate(self) -> float: ...
    @property
    def burst(self) -> int: ...
    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], int] | None = None,
    ) -> None: ...
    def now(self) -> int: ...
    def try_acquire(self, n: int = 1) -> bool: ...
    def try_acquire_ns(self, n: int = 1) -> int: ...
    def reserve(
        self, n: int = 1, max_wait_ns: int = ...
    ) -> tuple[int, int]: ...
    def cancel(self, n: int, ticket: int) -> bool: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def available(self) -> int: ...
