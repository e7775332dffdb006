"""Relations on lists: conso, heado, tailo, membero, appendo, rembero,
permuteo.

Lists are Python lists, or partial lists built with :func:`cons`; the
relations work in every direction, as far as their search terminates.

>>> from kando_parallel import var, run
>>> x, y = var(), var()
>>> run(0, (x, y), appendo(x, y, [1, 2]))
[([], [1, 2]), ([1], [2]), ([1, 2], [])]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kando_parallel._backend import engine, terms

if TYPE_CHECKING:
    from kando_parallel._core.engine import Goal

conde = engine.conde
conj = engine.conj
eq = engine.eq
fresh = engine.fresh
relation = engine.relation
cons = terms.cons


@relation
def conso(head: object, tail: object, pair: object) -> Goal:
    """``pair`` is the list whose first element is ``head`` and rest
    ``tail``."""
    return eq(cons(head, tail), pair)


@relation
def heado(head: object, lst: object) -> Goal:
    """``head`` is the first element of ``lst``."""
    return fresh(lambda tail: eq(cons(head, tail), lst))


@relation
def tailo(tail: object, lst: object) -> Goal:
    """``tail`` is ``lst`` without its first element."""
    return fresh(lambda head: eq(cons(head, tail), lst))


@relation
def membero(x: object, lst: object) -> Goal:
    """``x`` is an element of ``lst``; one answer per position.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> run(0, q, membero(q, ["a", "b"]))
    ['a', 'b']
    """
    return fresh(
        lambda head, tail: conj(
            eq(cons(head, tail), lst),
            conde([eq(head, x)], [membero(x, tail)]),
        )
    )


@relation
def appendo(front: object, back: object, whole: object) -> Goal:
    """``whole`` is ``front`` followed by ``back``."""
    return conde(
        [eq(front, []), eq(back, whole)],
        [
            fresh(
                lambda head, rest, joined: conj(
                    eq(cons(head, rest), front),
                    eq(cons(head, joined), whole),
                    appendo(rest, back, joined),
                )
            )
        ],
    )


@relation
def rembero(x: object, lst: object, rest: object) -> Goal:
    """``rest`` is ``lst`` with one occurrence of ``x`` taken out.

    Each occurrence gives one answer (Prolog's ``select/3``); without
    disequality constraints there is no relational "first occurrence".

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> run(0, q, rembero(1, [1, 2, 1], q))
    [[2, 1], [1, 2]]
    """
    return conde(
        [eq(cons(x, rest), lst)],
        [
            fresh(
                lambda head, tail, shorter: conj(
                    eq(cons(head, tail), lst),
                    eq(cons(head, shorter), rest),
                    rembero(x, tail, shorter),
                )
            )
        ],
    )


@relation
def permuteo(lst: object, perm: object) -> Goal:
    """``perm`` is a permutation of ``lst``.

    >>> from kando_parallel import var, run
    >>> q = var()
    >>> sorted(run(0, q, permuteo([1, 2, 3], q)))
    [[1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]]
    """
    return conde(
        [eq(lst, []), eq(perm, [])],
        [
            fresh(
                lambda head, tail, rest: conj(
                    eq(cons(head, tail), perm),
                    rembero(head, lst, rest),
                    permuteo(rest, tail),
                )
            )
        ],
    )


# Relations are not functions, so doctest finds their examples here.
__test__ = {
    name: globals()[name].__doc__
    for name in ("membero", "rembero", "permuteo")
}

__all__ = [
    "appendo",
    "conso",
    "heado",
    "membero",
    "permuteo",
    "rembero",
    "tailo",
]
