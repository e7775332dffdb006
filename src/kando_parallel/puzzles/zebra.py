"""The zebra puzzle (Einstein's puzzle), five houses and 14 clues.

Each house is a tuple ``(nationality, pet, drink, smoke, colour)``; the
clues are stated in their published order, numbered as usual from 2.

>>> from kando_parallel import run
>>> houses, owner, drinker, goals = zebra_goals()
>>> run(0, (owner, drinker), *goals)
[('japanese', 'norwegian')]
"""

from __future__ import annotations

from kando_parallel import Goal, Var, conde, conj, cons, disj, eq, fresh
from kando_parallel import membero, relation, var


@relation
def righto(left: object, right: object, houses: object) -> Goal:
    """``right`` stands immediately right of ``left`` in ``houses``."""
    return conde(
        [fresh(lambda rest: eq(cons(left, cons(right, rest)), houses))],
        [
            fresh(
                lambda first, rest: conj(
                    eq(cons(first, rest), houses),
                    righto(left, right, rest),
                )
            )
        ],
    )


def nexto(a: object, b: object, houses: object) -> Goal:
    """``a`` and ``b`` are neighbours in ``houses``."""
    return disj(righto(a, b, houses), righto(b, a, houses))


def _house(
    nationality: object = None,
    pet: object = None,
    drink: object = None,
    smoke: object = None,
    colour: object = None,
) -> tuple[object, ...]:
    return tuple(
        var() if value is None else value
        for value in (nationality, pet, drink, smoke, colour)
    )


def zebra_goals() -> tuple[list[Var], Var, Var, list[Goal]]:
    """The houses, the zebra's owner, the water drinker, and the goals."""
    houses = [var(f"house{i}") for i in range(1, 6)]
    owner = var("owner")
    drinker = var("drinker")
    h = _house
    goals = [
        membero(h("englishman", colour="red"), houses),  # 2
        membero(h("spaniard", pet="dog"), houses),  # 3
        membero(h(drink="coffee", colour="green"), houses),  # 4
        membero(h("ukrainian", drink="tea"), houses),  # 5
        righto(h(colour="ivory"), h(colour="green"), houses),  # 6
        membero(h(pet="snails", smoke="oldgold"), houses),  # 7
        membero(h(smoke="kools", colour="yellow"), houses),  # 8
        eq(houses[2], h(drink="milk")),  # 9
        eq(houses[0], h("norwegian")),  # 10
        nexto(h(smoke="chesterfields"), h(pet="fox"), houses),  # 11
        nexto(h(smoke="kools"), h(pet="horse"), houses),  # 12
        membero(h(drink="orangejuice", smoke="luckystrike"), houses),  # 13
        membero(h("japanese", smoke="parliaments"), houses),  # 14
        nexto(h("norwegian"), h(colour="blue"), houses),  # 15
        membero(h(owner, pet="zebra"), houses),
        membero(h(drinker, drink="water"), houses),
    ]
    return houses, owner, drinker, goals
