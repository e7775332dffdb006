"""Section A of the behaviour cases (``shared/cases/CASES.md``, 1-14).

Each case is spelled in this package's API: the empty list is ``[]``, a
cons chain that ends in ``[]`` is a Python list, "all answers" is
``run(0, ...)``, ``run(None, ...)`` or ``run_all``, reified unbound
variables are ``Unbound(i)`` (printed ``_i``), failure of ``unify`` is
``None``, and a logic variable as a dict key is rejected with TypeError.
Cases that would not terminate in a faulty core run under ``within``.
"""

import types
from typing import NamedTuple

import pytest
from conftest import within

from kando_parallel import (
    Cons,
    Facts,
    Unbound,
    conde,
    conj,
    conso,
    cons,
    disj,
    eq,
    fresh,
    reify,
    relation,
    run,
    run_all,
    unify,
    var,
    vars,
)

_0, _1 = Unbound(0), Unbound(1)


@relation
def nevero():
    """Recurse for ever; never succeed."""
    return nevero()


# ---------------------------------------------------------------- case 1


def occurs_queries():
    q, x, y = var("q"), var("x"), var("y")
    return [
        run(1, q, eq((q,), q)),
        run(1, q, eq(cons(q, []), q)),
        run(0, q, conj(eq(x, (y,)), eq(y, (x,)))),
        run(0, q, conj(eq(q, (x,)), eq(x, (q, 1)))),
    ]


def test_case_01_occurs_check_empties_every_run():
    assert within(1, occurs_queries) == [[], [], [], []]


def occurs_unifications():
    q, x, y = var("q"), var("x"), var("y")
    through = unify(x, (y,))
    longer = unify(q, (x,))
    return [
        unify((q,), q),
        unify(cons(q, []), q),
        unify(y, (x,), through),
        unify(x, (q, 1), longer),
    ]


def test_case_01_occurs_check_fails_plain_unify():
    assert within(1, occurs_unifications) == [None, None, None, None]


def test_case_01_cycle_through_a_large_term():
    xs = vars(50)
    big = tuple((i, xs[i + 1]) for i in range(49))
    s = unify(xs[0], big)
    for i in range(1, 49):
        s = unify(xs[i], ("wrap", xs[i + 1]), s)

    assert s is not None
    assert within(1, unify, xs[49], ("deep", xs[0]), s) is None


# ---------------------------------------------------------------- case 2


def test_case_02_repeated_variable_must_agree():
    x = var("x")

    assert unify((x, x), ("a", "b"), {}) is None


def test_case_02_repeated_variable_binds_once():
    x = var("x")

    s = unify((x, x), ("a", "a"), {})

    assert dict(s) == {x: "a"}


def test_case_02_nested_tuple_of_variables_is_structure():
    x, y = var("x"), var("y")

    s = unify(((x, y),), ((1, 2),), {})

    assert dict(s) == {x: 1, y: 2}


def test_case_02_fact_relation_with_repeated_variable():
    rel = Facts("rel", [("a", "b"), ("c", "c")])
    x = var("x")

    assert run(0, x, rel(x, x)) == ["c"]


# ---------------------------------------------------------------- case 5

FALSY = [False, 0, 0.0, None, (), [], "", {}]


@pytest.mark.parametrize("value", FALSY, ids=repr)
def test_case_05_falsy_values_are_answers(value):
    q = var("q")

    answers = run(0, q, eq(q, value))

    assert len(answers) == 1
    assert type(answers[0]) is type(value)
    assert answers[0] == value


@pytest.mark.parametrize("value", [False, 0, None, ()], ids=repr)
def test_case_05_falsy_atom_comes_back_itself(value):
    q = var("q")

    assert run(0, q, eq(q, value))[0] is value


def test_case_05_empty_substitution_is_success():
    s = unify(2, 2, {})

    assert s is not None
    assert bool(s) is True
    assert len(s) == 0
    assert unify(2, 3, {}) is None


def test_case_05_success_without_bindings():
    q = var("q")

    assert run(0, q, eq(1, 1)) == [_0]


def test_case_05_none_bound_through_a_variable():
    q, x = var("q"), var("x")

    assert run(0, q, conj(eq(x, None), eq(q, x))) == [None]


# ---------------------------------------------------------------- case 6


def four():
    q = var("q")
    return q, disj(eq(q, 1), eq(q, 2), eq(q, 3), eq(q, 4))


def test_case_06_run_two():
    q, g = four()

    answers = run(2, q, g)

    assert len(answers) == 2
    assert len(set(answers)) == 2
    assert set(answers) <= {1, 2, 3, 4}


def test_case_06_run_more_than_available():
    q, g = four()

    answers = within(1, run, 10, q, g)

    assert len(answers) == 4
    assert set(answers) == {1, 2, 3, 4}


@pytest.mark.parametrize("how", ["zero", "none", "run_all"])
def test_case_06_all_answers(how):
    q, g = four()

    if how == "run_all":
        answers = run_all(q, g)
    else:
        answers = run(0 if how == "zero" else None, q, g)

    assert len(answers) == 4
    assert set(answers) == {1, 2, 3, 4}


@pytest.mark.parametrize(
    "n, error", [(-3, ValueError), (1.2, TypeError)], ids=["-3", "1.2"]
)
def test_case_06_bad_counts_are_rejected(n, error):
    q, g = four()

    with pytest.raises(error):
        run(n, q, g)


def stop_at_one():
    q = var("q")
    return run(1, q, disj(eq(q, 1), nevero()))


def test_case_06_run_stops_as_soon_as_it_has_n():
    assert within(1, stop_at_one) == [1]


# ---------------------------------------------------------------- case 7


def loop_three():
    q = var("q")

    @relation
    def loop():
        return conde([eq(q, False)], [eq(q, True)], [loop()])

    return run(3, q, loop())


def test_case_07_self_referential_conde():
    answers = within(1, loop_three)

    assert len(answers) == 3
    assert set(answers) == {False, True}
    assert all(type(answer) is bool for answer in answers)
    assert answers == [False, True, False]


@relation
def anyo(goal):
    """``goal`` succeeds, as many times as asked."""
    return conde([goal], [anyo(goal)])


def anyo_answers(n):
    q = var("q")
    return run(n, q, anyo(eq(1, 1)))


@pytest.mark.parametrize("n", [1, 3])
def test_case_07_anyo(n):
    assert within(1, anyo_answers, n) == [_0] * n


# ---------------------------------------------------------------- case 9


def test_case_09_chained_conso_is_one_partial_list():
    q = var("q")

    answers = run(
        0, q, fresh(2, lambda d, dd: conj(conso(3, d, q), conso(4, dd, d)))
    )

    assert answers == [Cons(3, Cons(4, _0))]
    assert type(answers[0]) is Cons
    assert repr(answers[0]) == "(3 4 . _0)"


def test_case_09_closed_by_the_empty_list():
    q = var("q")

    answers = run(
        0,
        q,
        fresh(
            2,
            lambda d, dd: conj(conso(3, d, q), conso(4, dd, d), eq(dd, [])),
        ),
    )

    assert answers == [[3, 4]]
    assert type(answers[0]) is list


# ---------------------------------------------------------------- case 10


def test_case_10_branches_cross_independently():
    a, b = var("a"), var("b")

    answers = run(
        0,
        (a, b),
        conj(
            conde([eq(a, 1)], [eq(a, 2)]),
            conde([eq(b, "x")], [eq(b, "y")]),
        ),
    )

    assert len(answers) == 4
    assert set(answers) == {(1, "x"), (1, "y"), (2, "x"), (2, "y")}


def test_case_10_branches_do_not_leak_bindings():
    q = var("q")

    answers = run(
        0,
        q,
        conj(conde([eq(q, 1)], [eq(q, 2)]), conde([eq(q, 2)], [eq(q, 3)])),
    )

    assert answers == [2]


# ---------------------------------------------------------------- case 12


def named_parameter(fn, name):
    """``fn`` with its one parameter renamed to ``name`` (any string)."""
    code = fn.__code__.replace(co_varnames=(name,))
    return types.FunctionType(code, fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


# A variable named ``_1`` prints as ``~_1``, the case's last display name,
# which is also how the unnamed variable with id 1 prints.
@pytest.mark.parametrize("name", ["k", "q", "s", "c", "_0", "_1"])
def test_case_12_fresh_variables_are_told_apart_by_identity(name):
    q = var("q")
    namesakes = [var(name), var("k"), var("q"), q]
    seen = []

    def body(k):
        seen.append(k)
        return conj(eq(k, 1), eq(q, k))

    fn = named_parameter(body, name)

    assert run(1, q, fresh(fn)) == [1]
    assert seen and seen[0].name == name
    assert repr(seen[0]) == f"~{name}"
    assert all(made != other for made in seen for other in namesakes)


def test_case_12_named_vars_are_distinct():
    first, second = var("k"), var("k")

    assert first != second
    assert first == first
    assert unify((first, second), (1, 2)) is not None


# ---------------------------------------------------------------- case 13


def test_case_13a_unbound_named_left_to_right():
    q = var("q")

    answers = run(1, q, fresh(lambda x, y: eq(q, (y, x, y))))

    assert answers == [(_0, _1, _0)]


def test_case_13b_each_relation_call_has_its_own_variables():
    q = var("q")

    @relation
    def r(a):
        return fresh(lambda z: eq(a, (z, z)))

    answers = run(
        1, q, fresh(lambda u, v: conj(r(u), r(v), eq(q, (u, v))))
    )

    assert answers == [((_0, _0), (_1, _1))]


def test_case_13c_bindings_away_from_the_query_are_invisible():
    q = var("q")

    assert run(1, q, fresh(lambda x: eq(x, 5))) == [_0]


def test_case_13d_query_unified_with_itself():
    q = var("q")

    assert run(1, q, eq(q, q)) == [_0]


# ---------------------------------------------------------------- case 14


class P(NamedTuple):
    a: object
    b: object


def test_case_14_namedtuple_keeps_its_type():
    x, y = var("x"), var("y")

    s = unify(P(1, 4), P(x, y), {})
    value = reify(P(x, y), s)

    assert value == P(1, 4)
    assert type(value) is P
    assert value.a == 1


def test_case_14_containers_keep_their_types():
    x, y = var("x"), var("y")
    s = unify(P(1, 4), P(x, y), {})

    value = reify([x, (y, x)], s)

    assert value == [1, (4, 1)]
    assert type(value) is list
    assert type(value[1]) is tuple


def test_case_14_dicts_unify_key_by_key():
    x = var("x")

    assert dict(unify({"k": x}, {"k": "v"}, {})) == {x: "v"}
    assert unify({"a": 1}, {"a": 1, "b": 2}, {}) is None
    assert unify({"a": x}, {"b": 1}, {}) is None


def test_case_14_variable_dict_key_is_unsupported():
    x = var("x")

    with pytest.raises(TypeError):
        unify({x: 1}, {"a": 1}, {})
    with pytest.raises(TypeError):
        eq({x: 1}, {"a": 1})


@pytest.mark.parametrize("key", ["tuple", "nested", "frozenset"])
def test_case_14_a_variable_inside_a_dict_key_is_unsupported_too(key):
    x = var("x")
    holding = {
        "tuple": (1, x),
        "nested": ("a", ("b", (x,))),
        "frozenset": frozenset({x, 2}),
    }[key]

    with pytest.raises(TypeError, match="part of one"):
        unify({holding: 1}, {(1, 2): 1}, {})
    # A key made of plain values is fine.
    assert unify({(1, 2): x}, {(1, 2): 3})[x] == 3
