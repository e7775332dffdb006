"""Types of :mod:`kando_parallel._core.engine` (see engine.pyx)."""

from collections.abc import Callable, Generator, Iterable
from typing import Any, Final, NoReturn, SupportsIndex, overload

from typing_extensions import Self, disjoint_base

from kando_parallel._core.subst import Substitution

__all__ = [
    "Facts",
    "Goal",
    "Relation",
    "Search",
    "SearchCancelled",
    "conde",
    "conj",
    "disj",
    "eq",
    "fail",
    "fresh",
    "pygoal",
    "relation",
    "run",
    "run_all",
    "run_iter",
    "succeed",
]

# A function that builds a goal from logic variables or values.
_GoalFn = Callable[..., Goal]
# The function of a Python goal: the current state to the states that
# extend it (None items are skipped; None itself means no answers), or
# to a goal that runs in its place.
_PyGoalFn = Callable[
    [Substitution], Iterable[Substitution | None] | Goal | None
]

class SearchCancelled(Exception):
    """The search was cancelled before it finished."""

@disjoint_base
class Goal:
    """A goal; combine with ``&`` (conjunction) and ``|`` (disjunction)."""

    @property
    def label(self) -> str | None: ...
    def __and__(self, other: Goal, /) -> Goal: ...
    def __or__(self, other: Goal, /) -> Goal: ...
    def __bool__(self) -> NoReturn: ...

succeed: Final[Goal]
fail: Final[Goal]

def eq(u: object, v: object) -> Goal: ...
def conj(*goals: Goal) -> Goal: ...
def disj(*goals: Goal) -> Goal: ...
def conde(*clauses: Goal | list[Goal] | tuple[Goal, ...]) -> Goal: ...
@overload
def fresh(count_or_fn: _GoalFn, fn: None = None) -> Goal: ...
@overload
def fresh(count_or_fn: int, fn: _GoalFn) -> Goal: ...
def pygoal(fn: _PyGoalFn) -> Goal: ...

@disjoint_base
class Relation:
    """A Python function from terms to a goal, expanded lazily."""

    @property
    def fn(self) -> _GoalFn: ...
    @property
    def name(self) -> str: ...
    @property
    def arity(self) -> int | None: ...
    @property
    def dynamic(self) -> bool: ...
    def __init__(
        self, fn: _GoalFn, name: str | None = None, dynamic: bool = False
    ) -> None: ...
    def __call__(self, *args: object) -> Goal: ...

@overload
def relation(
    fn: _GoalFn, *, name: str | None = None, dynamic: bool = False
) -> Relation: ...
@overload
def relation(
    fn: None = None, *, name: str | None = None, dynamic: bool = False
) -> Callable[[_GoalFn], Relation]: ...

@disjoint_base
class Facts:
    """A table of ground facts, queried like a relation."""

    @property
    def name(self) -> str: ...
    @property
    def arity(self) -> int | None: ...
    def __init__(
        self, name: str = "facts", rows: Iterable[Iterable[object]] = ()
    ) -> None: ...
    def add(self, *row: object) -> None: ...
    def extend(self, rows: Iterable[Iterable[object]]) -> None: ...
    def __len__(self) -> int: ...
    def __call__(self, *args: object) -> Goal: ...

@disjoint_base
class Search:
    """A running search for the answers of a goal; an iterator of them."""

    # What step() returns.
    ANSWER: Final[int]
    EXHAUSTED: Final[int]
    BUDGET: Final[int]
    CANCELLED: Final[int]

    @property
    def steps(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def cancelled(self) -> bool: ...
    def __init__(
        self,
        query: object,
        goal: Goal,
        occurs_check: bool = True,
        state: Substitution | None = None,
    ) -> None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def step(self, budget: int) -> int: ...
    def answer(self) -> Any: ...
    def answer_substitution(self) -> Substitution: ...
    def split(
        self, count: int, pieces: int | None = None
    ) -> list[Search]: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...

def check_count(n: SupportsIndex | None) -> int | None: ...
def run(
    n: SupportsIndex | None,
    query: object,
    *goals: Goal,
    occurs_check: bool = True,
) -> list[Any]: ...
def run_all(
    query: object, *goals: Goal, occurs_check: bool = True
) -> list[Any]: ...
def run_iter(
    query: object, *goals: Goal, occurs_check: bool = True
) -> Generator[Any, None, None]: ...
