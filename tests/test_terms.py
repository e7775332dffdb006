"""Terms: logic variables, atoms, tuples, lists, pairs and dicts."""

import collections
import decimal
import pickle
from typing import NamedTuple

import pytest

import kando_parallel
from kando_parallel import (
    Cons,
    Unbound,
    cons,
    eq,
    is_var,
    reify,
    run,
    unify,
    var,
    vars,
)


def answer(value):
    """The single answer of ``run(0, q, eq(q, value))``."""
    q = var()
    answers = run(0, q, eq(q, value))
    assert len(answers) == 1
    return answers[0]


def test_backend_is_one_of_the_two():
    assert kando_parallel.__backend__ in ("cython", "python")


# ---------------------------------------------------------------- variables


def test_var_makes_a_new_variable_each_time():
    x, y = var(), var()

    assert is_var(x) and is_var(y)
    assert x != y
    assert x == x
    assert hash(x) == hash(x)
    assert len({x, y, x}) == 2


def test_name_is_only_for_display():
    x, y = var("x"), var("x")

    assert x.name == "x" and y.name == "x"
    assert x != y
    assert repr(x) == "~x"
    assert var().name is None


def test_variable_ids_are_unique():
    made = [var() for _ in range(1000)]

    assert len({v.id for v in made}) == 1000


def test_var_rejects_a_name_that_is_not_a_string():
    with pytest.raises(TypeError):
        var(3)


def test_vars_makes_n_distinct_variables():
    made = vars(5)

    assert len(made) == 5
    assert all(is_var(v) for v in made)
    assert len(set(made)) == 5
    assert vars(0) == []


@pytest.mark.parametrize(
    "count, error",
    [(-1, ValueError), ("3", TypeError), (2.0, TypeError),
     (True, TypeError)],
    ids=repr,
)
def test_vars_rejects_bad_counts(count, error):
    with pytest.raises(error):
        vars(count)


def test_is_var_on_non_variables():
    assert not any(is_var(obj) for obj in (1, "x", None, (), [], Unbound(0)))


def test_variables_are_not_picklable():
    with pytest.raises(TypeError):
        pickle.dumps(var())


def test_variable_as_dict_key_of_a_term_is_rejected():
    with pytest.raises(TypeError):
        run(1, var(), eq({var(): 1}, {}))


# ---------------------------------------------------------------- unbound


def test_unbound_prints_and_compares_by_number():
    assert repr(Unbound(0)) == "_0"
    assert repr(Unbound(12)) == "_12"
    assert Unbound(1) == Unbound(1)
    assert Unbound(1) != Unbound(2)
    assert Unbound(1) != 1
    assert hash(Unbound(3)) == hash(Unbound(3))
    assert pickle.loads(pickle.dumps(Unbound(4))) == Unbound(4)


def test_unbound_is_what_an_unbound_query_reifies_to():
    q = var()

    result = run(1, q, eq(1, 1))[0]

    assert type(result) is Unbound
    assert result == Unbound(0)


# ---------------------------------------------------------------- atoms


@pytest.mark.parametrize(
    "left, right",
    [(1, 1.0), (1, True), (1.0, True), (0, False), (0, 0.0), (0.0, False),
     (1, "1"), (None, False), ((), []), (b"a", "a")],
    ids=repr,
)
def test_atoms_of_different_types_never_unify(left, right):
    assert unify(left, right) is None
    assert unify(right, left) is None
    assert run(0, var(), eq(left, right)) == []


@pytest.mark.parametrize(
    "value",
    [1, 1.0, True, -7, 2**61 - 1, -(2**61), 2**61, -(2**61) - 1, 10**40,
     3.5, "text", b"bytes", None, 1 + 2j, frozenset({1, 2}),
     decimal.Decimal("2.5")],
    ids=repr,
)
def test_atom_comes_back_with_its_type_and_value(value):
    found = answer(value)

    assert type(found) is type(value)
    assert found == value


def test_one_one_point_zero_and_true_stay_apart_in_one_answer():
    q = var()

    found = run(0, q, eq(q, (1, 1.0, True)))[0]

    assert [type(item) for item in found] == [int, float, bool]


def test_answer_is_the_object_that_went_in():
    unhashable = {"a": [1, 2]}.values()
    plain = object()
    big = 10**50 + 7

    for value in (unhashable, plain, big):
        assert answer(value) is value


def test_unhashable_atoms_unify_by_identity():
    left, right = bytearray(b"x"), bytearray(b"x")

    assert unify(left, left) is not None
    assert unify(left, right) is None


@pytest.mark.parametrize(
    "first, second",
    [(0.0, -0.0), (decimal.Decimal("1.0"), decimal.Decimal("1.00"))],
    ids=["zero-and-negative-zero", "decimal-1.0-and-1.00"],
)
def test_equal_atoms_come_back_as_themselves(first, second):
    # Equal values of one type unify, but each answer gives back what
    # went in: an object of the same type that prints the same, not an
    # earlier equal one that prints differently.  (Identity is not kept:
    # atoms are interned by value and representation.)
    assert unify(first, second) is not None

    for value in (first, second):
        found = answer(value)

        assert type(found) is type(value)
        assert repr(found) == repr(value)
        assert found == value


# ---------------------------------------------------------------- tuples


class Point(NamedTuple):
    x: object
    y: object


Pair = collections.namedtuple("Pair", "left right")


def test_namedtuples_keep_their_types():
    a, b = var(), var()
    term = (Point(a, Pair(b, [a])), [Pair(1, 2)])

    found = reify(term, unify((a, b), ("A", "B")))

    assert found == (Point("A", Pair("B", ["A"])), [Pair(1, 2)])
    assert type(found[0]) is Point
    assert type(found[0].y) is Pair
    assert type(found[1][0]) is Pair
    assert found[0].y.left == "B"


def test_namedtuples_of_different_types_do_not_unify():
    assert unify(Point(1, 2), Pair(1, 2)) is None
    assert unify(Point(1, 2), (1, 2)) is None
    assert unify(Point(var(), 2), Point(1, 2)) is not None


def test_tuples_unify_by_length_and_items():
    x = var()

    assert unify((1, 2), (1, 2, 3)) is None
    assert unify((), ()) is not None
    assert reify(x, unify((1, x), (1, (2, 3)))) == (2, 3)


# ---------------------------------------------------------------- lists


def test_lists_are_proper_lists():
    x, y = var(), var()

    s = unify([x, 2, y], [1, 2, [3]])

    assert reify([x, y], s) == [1, [3]]
    assert unify([1, 2], [1, 2, 3]) is None
    assert unify([], [1]) is None
    assert unify([], []) is not None


def test_a_list_is_not_a_tuple():
    assert unify([1, 2], (1, 2)) is None
    assert type(answer([1, (2,)])) is list


def test_cons_onto_a_list_is_a_list():
    assert cons(1, [2, 3]) == [1, 2, 3]
    assert type(cons(1, [])) is list
    assert cons(1, cons(2, [])) == [1, 2]


def test_cons_chain_ending_in_empty_list_unifies_with_the_list():
    h, t = var(), var()

    s = unify(cons(h, t), [1, 2, 3])

    assert reify(h, s) == 1
    assert reify(t, s) == [2, 3]
    assert type(reify(t, s)) is list


def test_partial_list_reifies_as_a_pair():
    t = var()

    found = reify(cons(1, cons(2, t)))

    assert type(found) is Cons
    assert found == Cons(1, Cons(2, Unbound(0)))
    assert repr(found) == "(1 2 . _0)"
    assert found.head == 1
    assert found.tail == Cons(2, Unbound(0))


def test_partial_list_closes_into_a_list():
    t = var()
    partial = cons(1, cons(2, t))

    s = unify(partial, [1, 2, 3, 4])

    assert reify(partial, s) == [1, 2, 3, 4]
    assert type(reify(partial, s)) is list
    assert reify(t, s) == [3, 4]


def test_improper_pair_with_an_atom_tail():
    found = answer(cons(1, 2))

    assert type(found) is Cons
    assert found == Cons(1, 2)
    assert repr(found) == "(1 . 2)"
    assert unify(cons(1, 2), [1, 2]) is None


def test_cons_compares_with_lists():
    assert Cons(1, Cons(2, [])) == [1, 2]
    assert Cons(1, []) != [2]
    assert Cons(1, Unbound(0)) != [1]


# ---------------------------------------------------------------- dicts


def test_dicts_unify_key_by_key():
    x, y = var(), var()

    s = unify({"a": x, "b": (1, y)}, {"b": (1, 2), "a": "A"})

    assert reify((x, y), s) == ("A", 2)


def test_dicts_with_different_keys_fail():
    assert unify({"a": 1}, {"a": 1, "b": 2}) is None
    assert unify({"a": 1, "b": 2}, {"a": 1}) is None
    assert unify({"a": var()}, {"b": 1}) is None
    assert unify({}, {}) is not None


def test_dict_keys_of_different_types_are_different_keys():
    assert unify({1: "x"}, {1.0: "x"}) is None
    assert unify({1: "x"}, {True: "x"}) is None


def test_dicts_reify_as_dicts():
    x = var()

    found = reify({"k": [x], 3: (x,)}, unify(x, "v"))

    assert found == {"k": ["v"], 3: ("v",)}
    assert type(found) is dict


def test_a_dict_is_not_a_list_of_pairs():
    assert unify({"a": 1}, [("a", 1)]) is None
    assert unify({"a": 1}, (("a", 1),)) is None
