"""N queens: place N queens on an N x N board, none attacking another.

Queen ``i`` stands in row ``i``; its value is its column, 1 to N.  A fact
table ``safe(d, a, b)`` lists every pair of columns that two queens ``d``
rows apart may take; the goal asks ``safe`` of every pair of queens,
nearest rows first.

>>> from kando_parallel import run
>>> queens, goal = queens_goal(6)
>>> sorted(run(0, queens, goal))
[(2, 4, 6, 1, 3, 5), (3, 6, 2, 5, 1, 4), (4, 1, 5, 2, 6, 3), (5, 3, 1, 6, 4, 2)]
"""

from __future__ import annotations

from collections.abc import Sequence

from kando_parallel import Facts, Goal, Var, conj, eq, var


def safe_pairs(n: int) -> Facts:
    """The facts ``(d, a, b)``: columns a and b, d rows apart, are safe."""
    return Facts(
        "safe",
        [
            (d, a, b)
            for d in range(1, n)
            for a in range(1, n + 1)
            for b in range(1, n + 1)
            if a != b and abs(a - b) != d
        ],
    )


def queens_goal(n: int) -> tuple[tuple[Var, ...], Goal]:
    """The tuple of N queen variables and the goal that places them."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"N queens needs a whole number N >= 1, not {n!r}")
    queens = tuple(var(f"q{i}") for i in range(n))
    if n == 1:
        return queens, eq(queens[0], 1)
    safe = safe_pairs(n)
    goals = [
        safe(k - i, queens[i], queens[k])
        for k in range(1, n)
        for i in range(k - 1, -1, -1)
    ]
    return queens, conj(*goals)


def is_solution(columns: Sequence[int]) -> bool:
    """Whether ``columns`` places the queens so that none attacks."""
    n = len(columns)
    return all(1 <= c <= n for c in columns) and all(
        columns[i] != columns[j] and abs(columns[i] - columns[j]) != j - i
        for i in range(n)
        for j in range(i + 1, n)
    )
