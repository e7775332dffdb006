"""Walk, unify and reify; substitutions; the occurs check; size limits.

The large-term tests build terms a million deep or long under the default
recursion limit.  They compare results with loops, never with ``==`` on
deep terms, which would recurse.
"""

import subprocess
import sys
from collections.abc import ItemsView, KeysView, ValuesView

import pytest
from conftest import within

from kando_parallel import (
    CyclicTermError,
    Substitution,
    Unbound,
    eq,
    reify,
    run,
    unify,
    var,
    walk,
)

MILLION = 1_000_000


# Every test here runs under the interpreter's default recursion limit.
pytestmark = pytest.mark.usefixtures("default_recursion_limit")


# ---------------------------------------------------------------- unify


def test_unify_binds_variables_on_either_side():
    x, y = var(), var()

    s = unify((x, 2), (1, y))

    assert isinstance(s, Substitution)
    assert s[x] == 1 and s[y] == 2
    assert len(s) == 2


def test_unify_variable_with_variable():
    x, y = var(), var()

    s = unify(x, y)

    assert len(s) == 1
    assert reify((x, y), s) == (Unbound(0), Unbound(0))
    assert reify(x, unify(y, 5, s)) == 5


def test_unify_same_variable_adds_nothing():
    x = var()

    assert len(unify(x, x)) == 0


def test_unify_failure_is_none():
    x = var()

    assert unify(1, 2) is None
    assert unify((x, 1), (2, 2)) is None
    assert unify(x, 1, unify(x, 2)) is None


def test_unify_accepts_none_dict_or_substitution():
    x, y = var(), var()

    assert unify(x, 1, None)[x] == 1
    assert unify(x, y, {y: 3}) is not None
    assert reify(x, unify(x, y, {y: 3})) == 3
    assert reify(x, unify(x, y, Substitution({y: 4}))) == 4


@pytest.mark.parametrize("bad", [[1], "s", 3, (1, 2)], ids=repr)
def test_unify_rejects_a_substitution_of_the_wrong_type(bad):
    with pytest.raises(TypeError):
        unify(var(), 1, bad)


def test_substitution_keys_must_be_variables():
    with pytest.raises(TypeError):
        Substitution({1: 2})


def test_substitutions_are_persistent():
    x, y = var(), var()
    first = unify(x, 1)

    second = unify(y, 2, first)

    assert x in first and y not in first
    assert x in second and y in second
    assert len(first) == 1 and len(second) == 2
    assert unify(x, 3, first) is None


def test_substitution_is_a_mapping():
    x, y = var(), var()

    s = unify((x, y), ("a", ["b"]))

    assert set(s) == {x, y}
    assert dict(s.items()) == {x: "a", y: ["b"]}
    assert s.get(var(), "absent") == "absent"
    with pytest.raises(KeyError):
        s[var()]


def test_substitution_views_are_those_of_a_mapping():
    x, y = var(), var()

    s = unify((x, y), ("a", ["b"]))

    assert isinstance(s.keys(), KeysView)
    assert isinstance(s.values(), ValuesView)
    assert isinstance(s.items(), ItemsView)
    assert s.keys() & {x, var()} == {x}
    assert sorted(map(repr, s.values())) == ["'a'", "['b']"]
    assert (x, "a") in s.items() and (x, "b") not in s.items()


def test_empty_substitution_is_true():
    assert bool(Substitution()) is True
    assert bool(unify(1, 1)) is True


# ---------------------------------------------------------------- walk


def test_walk_follows_a_chain_of_bindings():
    a, b, c, d = var(), var(), var(), var()
    s = unify(c, (1, d), unify(b, c, unify(a, b)))

    assert walk(a, s) == (1, d)
    assert walk(b, s) == (1, d)
    assert walk(d, s) == d


def test_walk_stops_at_the_first_non_variable():
    x, y = var(), var()

    s = unify(x, (y, 2), unify(y, 1))

    assert walk(x, s) == (y, 2)
    assert reify(x, s) == (1, 2)


def test_walk_of_an_atom_or_unbound_variable():
    x = var()

    assert walk(5) == 5
    assert walk(x) == x
    assert walk(x, {}) == x


# ---------------------------------------------------------------- reify


def test_reify_names_unbound_variables_in_order_of_appearance():
    x, y, z = var(), var(), var()

    found = reify([y, (x, y), z, x], unify(z, "z"))

    assert found == [Unbound(0), (Unbound(1), Unbound(0)), "z", Unbound(1)]


def test_reify_without_a_substitution():
    x = var()

    assert reify((x, 1)) == (Unbound(0), 1)


def test_reify_shares_a_bound_subterm_without_blowing_up():
    xs = [var() for _ in range(60)]
    s = unify(xs[-1], "leaf")
    for i in range(59):
        s = unify(xs[i], (xs[i + 1], xs[i + 1]), s)

    found = reify(xs[50], s)

    depth = 0
    while type(found) is tuple:
        assert len(found) == 2
        found = found[1]
        depth += 1
    assert (depth, found) == (9, "leaf")


# ---------------------------------------------------------------- occurs


def test_occurs_check_is_on_by_default():
    x, y = var(), var()

    assert unify(x, (1, x)) is None
    assert unify(x, [x]) is None
    assert unify(x, {"k": (x,)}) is None
    assert unify(x, (y,), unify(y, [2, x])) is None
    assert unify(x, x) is not None


def test_occurs_check_sees_through_bindings():
    x, y, z = var(), var(), var()
    s = unify(y, (1, z))

    assert unify(z, (x,), unify(x, y, s)) is None


def test_occurs_check_can_be_turned_off():
    x = var()

    s = unify(x, (1, x), occurs_check=False)

    assert s is not None
    assert x in s


def cyclic_reify():
    x = var()
    s = unify(x, (1, x), occurs_check=False)
    try:
        reify(x, s)
    except CyclicTermError as exc:
        return str(exc)
    return "no error"


def test_reify_of_a_cyclic_binding_raises():
    message = within(5, cyclic_reify)

    assert message != "no error"


def cyclic_run():
    q, x = var(), var()
    bound_away = run(1, q, eq(x, (x,)), eq(q, 1), occurs_check=False)
    try:
        run(1, q, eq(q, (1, q)), occurs_check=False)
    except CyclicTermError:
        return bound_away, "raised"
    return bound_away, "no error"


def test_run_without_occurs_check_raises_on_a_cyclic_answer():
    assert within(5, cyclic_run) == ([1], "raised")


def test_reify_of_a_cyclic_user_substitution_raises():
    x, y = var(), var()

    with pytest.raises(CyclicTermError):
        within(5, reify, y, {y: [x], x: (1, y)})


def test_cyclic_binding_not_reached_from_the_term_is_harmless():
    x, y = var(), var()

    s = unify(x, (x,), unify(y, 2), occurs_check=False)

    assert reify(y, s) == 2


def test_cyclic_term_error_is_a_value_error():
    assert issubclass(CyclicTermError, ValueError)


# ---------------------------------------------------------------- size


@pytest.mark.slow
def test_unify_two_lists_of_a_million_elements():
    first, last = var(), var()
    left = list(range(MILLION))
    left[0] = first
    left[-1] = last
    right = list(range(MILLION))

    s = unify(left, right)

    assert s is not None
    assert (s[first], s[last]) == (0, MILLION - 1)


def test_unify_long_lists_that_differ_at_the_end():
    left = list(range(100_000))
    right = list(range(100_000))
    right[-1] = "other"

    assert unify(left, right) is None
    assert unify(left, right[:-1]) is None


@pytest.mark.slow
def test_reify_a_term_a_million_deep():
    bottom = var()
    term = bottom
    for _ in range(MILLION):
        term = ("f", term)

    found = reify(term, unify(bottom, "end"))

    depth = 0
    while type(found) is tuple:
        assert len(found) == 2 and found[0] == "f"
        found = found[1]
        depth += 1
    assert (depth, found) == (MILLION, "end")


CONS_CHAIN_SCRIPT = """
import kando_parallel
from kando_parallel import appendo, cons, run, var
chain = var()
for _ in range(1_000_000):
    chain = cons(1, chain)
del chain
# The twin's search is too slow for a million-step appendo in a test.
size = 1_000_000 if kando_parallel.__backend__ == "cython" else 20_000
q = var()
answers = run(1, q, appendo(list(range(size)), var(), q))
del answers
print("freed")
"""


@pytest.mark.slow
def test_a_million_long_cons_chain_is_freed_without_a_crash():
    # In a child process: freeing the chain once crashed the interpreter
    # (each pair freed its tail recursively on the C stack).
    done = subprocess.run([sys.executable, "-c", CONS_CHAIN_SCRIPT],
                          capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "freed\n"


def deep(depth, leaf):
    term = leaf
    for _ in range(depth):
        term = [term]
    return term


def test_unify_two_deep_terms():
    x = var()

    s = unify(deep(100_000, x), deep(100_000, 7))

    assert s[x] == 7
    assert unify(deep(100_000, 1), deep(100_000, 2)) is None


def test_occurs_check_in_a_deep_term():
    x = var()

    assert unify(x, deep(100_000, x)) is None


def test_unify_deep_terms_through_a_bound_variable():
    y = var()

    s = unify(y, deep(100_000, "a"))

    assert unify(y, deep(100_000, "a"), s) is not None
    assert unify(y, deep(100_000, "b"), s) is None


def unify_two_cyclic_terms():
    x, y = var(), var()
    s = unify(x, [x], occurs_check=False)
    s = unify(y, [y], s, occurs_check=False)
    joined = unify(x, y, s, occurs_check=False)
    from_dict = unify(x, y, {x: [x], y: [y]})
    different = unify(x, y, {x: [x, 1], y: [y, 2]})
    return joined is not None, from_dict is not None, different


def test_unifying_two_cyclic_terms_ends():
    # As rational trees, x = [x] and y = [y] are equal; x = [x, 1] and
    # y = [y, 2] are not.  Neither question may loop.
    assert within(30, unify_two_cyclic_terms) == (True, True, None)


def run_over_cyclic_terms():
    q, x, y = var(), var(), var()
    goals = (eq(x, [x]), eq(y, [y]), eq(x, y))
    found = run(1, q, *goals, eq(q, 1), occurs_check=False)
    try:
        run(1, q, *goals, eq(q, x), occurs_check=False)
    except CyclicTermError:
        return found, "raised"
    return found, "no error"


def test_run_over_cyclic_terms_without_the_occurs_check_ends():
    assert within(30, run_over_cyclic_terms) == ([1], "raised")


@pytest.mark.parametrize("bindings", ["self", "pair", "triangle"])
def test_a_substitution_that_binds_a_variable_to_itself_is_refused(bindings):
    x, y, z = var("x"), var("y"), var("z")
    given = {
        "self": {x: x},
        "pair": {x: y, y: x},
        "triangle": {x: y, y: z, z: x},
    }[bindings]

    with pytest.raises(ValueError, match="binds a variable to itself"):
        walk(x, given)
    with pytest.raises(ValueError, match="binds a variable to itself"):
        unify(x, 5, given)
    with pytest.raises(ValueError, match="binds a variable to itself"):
        Substitution(given)


def test_a_chain_of_variables_in_a_substitution_is_fine():
    x, y, z = var(), var(), var()

    assert walk(x, {x: y, y: z, z: 3}) == 3
