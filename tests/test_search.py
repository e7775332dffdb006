"""Goals and the search: run, run_all, run_iter, Search; relations, list
relations, Facts, pygoal; and the errors that bad input raises."""


import pytest
from conftest import within

from kando_parallel import (
    Cons,
    Facts,
    Goal,
    Search,
    Substitution,
    Unbound,
    appendo,
    conde,
    conj,
    cons,
    conso,
    disj,
    eq,
    fail,
    fresh,
    heado,
    is_var,
    membero,
    permuteo,
    pygoal,
    relation,
    rembero,
    run,
    run_all,
    run_iter,
    succeed,
    tailo,
    unify,
    var,
    vars,
)

_0, _1, _2 = Unbound(0), Unbound(1), Unbound(2)


@relation
def nevero():
    """Recurse for ever; never succeed."""
    return nevero()


@relation
def nato(n):
    """``n`` is a natural number as nested ``("s", ...)`` around ``"z"``."""
    return conde([eq(n, "z")], [fresh(lambda m: conj(eq(n, ("s", m)),
                                                     nato(m)))])


def peano(k):
    term = "z"
    for _ in range(k):
        term = ("s", term)
    return term


# Every test here runs under the interpreter's default recursion limit.
pytestmark = pytest.mark.usefixtures("default_recursion_limit")


# ---------------------------------------------------------------- run(n)


def three():
    q = var()
    return q, disj(eq(q, "a"), eq(q, "b"), eq(q, "c"))


@pytest.mark.parametrize("n, expected", [(1, 1), (2, 2), (3, 3), (4, 3),
                                         (100, 3)])
def test_run_gives_exactly_min_of_n_and_available(n, expected):
    q, goal = three()

    answers = run(n, q, goal)

    assert len(answers) == expected
    assert len(set(answers)) == expected
    assert set(answers) <= {"a", "b", "c"}


def test_run_all_spellings_agree():
    q, goal = three()

    assert run(0, q, goal) == run(None, q, goal) == run_all(q, goal)
    assert sorted(run_all(q, goal)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "n, error",
    [(-1, ValueError), (-3, ValueError), (1.2, TypeError),
     (2.0, TypeError), ("2", TypeError), (True, TypeError),
     (False, TypeError)],
    ids=repr,
)
def test_run_rejects_bad_counts(n, error):
    q, goal = three()

    with pytest.raises(error):
        run(n, q, goal)


@pytest.mark.parametrize("n", [2**63 - 1, 2**63, 10**30])
def test_a_count_beyond_any_list_means_every_answer(n):
    q, goal = three()

    assert sorted(run(n, q, goal)) == ["a", "b", "c"]


def test_run_with_no_goals_succeeds_once():
    q = var()

    assert run(0, q) == [_0]


def test_run_accepts_several_goals_as_a_conjunction():
    q, x = var(), var()

    assert run(0, q, eq(x, 2), membero(q, [1, 2, 3]), eq(q, x)) == [2]


def run_one_beside_a_divergent_branch():
    q = var()
    return (
        run(1, q, disj(eq(q, 1), nevero())),
        run(1, q, disj(nevero(), eq(q, 2))),
        run(2, q, disj(nevero(), eq(q, 3), nevero(), eq(q, 4))),
    )


def test_run_stops_as_soon_as_it_has_n_answers():
    assert within(2, run_one_beside_a_divergent_branch) == (
        [1], [2], [3, 4]
    )


def infinite_stream_prefix():
    q = var()
    return run(5, q, nato(q))


def test_run_takes_a_prefix_of_an_infinite_stream():
    assert within(2, infinite_stream_prefix) == [peano(k) for k in range(5)]


def fair_interleaving():
    q = var()
    return run(6, q, disj(nato(q), eq(q, "finite")))


def test_interleaving_does_not_starve_a_finite_branch():
    assert "finite" in within(2, fair_interleaving)


# ---------------------------------------------------------------- run_iter


def test_run_iter_is_lazy():
    q = var()
    answers = run_iter(q, nato(q))

    first = [next(answers) for _ in range(3)]
    answers.close()

    assert first == [peano(0), peano(1), peano(2)]


def test_run_iter_yields_every_answer_of_a_finite_search():
    q = var()

    assert list(run_iter(q, membero(q, [1, 2, 3]))) == [1, 2, 3]


# ---------------------------------------------------------------- Search


def test_search_steps_to_answers_then_exhausts():
    q = var()
    search = Search(q, disj(eq(q, 1), eq(q, 2)))
    found = []

    for _ in range(10):
        status = search.step(1000)
        if status == Search.ANSWER:
            found.append(search.answer())
        elif status == Search.EXHAUSTED:
            break

    assert found == [1, 2]
    assert status == Search.EXHAUSTED
    assert search.step(1000) == Search.EXHAUSTED


def budgeted_steps(goal_of):
    q = var()
    search = Search(q, goal_of(q))
    statuses = {search.step(50) for _ in range(20)}
    return statuses, search.steps


def never(q):
    return nevero()


def failing_rows(q):
    rows = Facts("rows", [((i,),) for i in range(100_000)])
    return conj(rows(("absent",)), eq(q, 1))


@pytest.mark.parametrize("goal_of", [never, failing_rows],
                         ids=["suspends", "fails"])
def test_search_step_respects_its_budget(goal_of):
    # A slice that only suspends or only fails still ends at its budget.
    statuses, steps = within(5, budgeted_steps, goal_of)

    assert statuses == {Search.BUDGET}
    assert 20 * 50 <= steps <= 20 * 60


def test_search_answer_substitution_is_the_answer_state():
    q, x = var(), var()
    search = Search(q, conj(eq(x, 5), eq(q, (x, x))))

    assert search.step(1000) == Search.ANSWER
    state = search.answer_substitution()

    assert isinstance(state, Substitution)
    assert state[x] == 5


def test_search_answers_are_read_only_after_an_answer():
    q = var()
    search = Search(q, eq(q, 1))

    with pytest.raises(RuntimeError, match="no answer yet"):
        search.answer_substitution()
    with pytest.raises(RuntimeError, match="no answer yet"):
        search.answer()
    assert search.step(100) == Search.ANSWER

    state = search.answer_substitution()

    assert isinstance(state, Substitution)
    assert state[q] == 1 and search.answer() == 1


def test_split_searches_share_out_the_answers():
    q = var()
    search = Search(q, membero(q, list(range(20))))
    found = []
    for _ in range(5):
        if search.step(7) == Search.ANSWER:
            found.append(search.answer())

    parts = search.split(3)
    found.extend(search)
    for part in parts:
        found.extend(part)

    assert 1 <= len(parts) <= 3
    assert sorted(found) == list(range(20))


def test_search_is_iterable_and_closes():
    q = var()

    with Search(q, membero(q, ["a", "b"])) as search:
        assert list(search) == ["a", "b"]
    assert search.pending == 0


def test_close_drops_pending_work():
    q = var()
    search = Search(q, nato(q))
    next(search)

    search.close()

    assert search.pending == 0
    assert list(search) == []


# ---------------------------------------------------------------- size


def test_conjunction_of_ten_thousand_goals():
    xs = vars(10_000)
    q = var()
    goals = [eq(xs[i], xs[i + 1]) for i in range(9_999)]

    answers = run(0, q, conj(*goals), eq(xs[-1], "end"), eq(q, xs[0]))

    assert answers == ["end"]


def test_nested_conjunction_of_ten_thousand_goals():
    q = var()
    goal = eq(q, 0)
    for i in range(10_000):
        goal = conj(goal, succeed, eq(var(), i))

    assert run(0, q, goal) == [0]


def test_disjunction_of_ten_thousand_goals():
    q = var()

    answers = run(0, q, disj(*[eq(q, i) for i in range(10_000)]))

    assert sorted(answers) == list(range(10_000))


@pytest.mark.slow
def test_relation_recursing_a_hundred_thousand_times():
    q = var()

    @relation
    def countdown(n, out):
        return conde(
            [eq(n, "z"), eq(out, "done")],
            [fresh(lambda m: conj(eq(n, ("s", m)), countdown(m, out)))],
        )

    assert run(0, q, countdown(peano(100_000), q)) == ["done"]


# ---------------------------------------------------------------- goals


def test_succeed_and_fail():
    q = var()

    assert run(0, q, succeed) == [_0]
    assert run(0, q, fail) == []
    assert run(0, q, conj(succeed, fail)) == []
    assert run(0, q, disj(fail, eq(q, 1))) == [1]


def test_empty_conj_and_disj():
    q = var()

    assert run(0, q, conj()) == [_0]
    assert run(0, q, disj()) == []


def test_goal_operators():
    q = var()

    assert sorted(run(0, q, eq(q, 1) | eq(q, 2))) == [1, 2]
    assert run(0, q, membero(q, [1, 2]) & eq(q, 2)) == [2]


def test_conde_clauses_are_conjunctions():
    q, x = var(), var()

    answers = run(0, (q, x), conde([eq(q, 1), eq(x, "a")],
                                   [eq(q, 2)],
                                   [eq(q, 3), fail]))

    assert sorted(answers, key=repr) == [(1, "a"), (2, _0)]


def test_fresh_with_an_explicit_count():
    q = var()

    answers = run(0, q, fresh(2, lambda a, b: eq(q, [b, a, b])))

    assert answers == [[_0, _1, _0]]


def test_fresh_variables_are_new_at_every_run():
    q = var()
    pair = fresh(lambda v: eq(q, v))

    assert run(0, q, pair, pair) == [_0]
    assert run(0, (q,), fresh(lambda a: eq(a, 1)), eq(q, 2)) == [(2,)]


def test_fresh_inside_a_recursive_relation_is_new_per_call():
    q = var()

    @relation
    def pairs(lst):
        return conde(
            [eq(lst, [])],
            [fresh(lambda a, rest: conj(eq(lst, cons((a, a), rest)),
                                        pairs(rest)))],
        )

    answers = run(0, q, fresh(lambda xs: conj(eq(xs, [var(), var()]),
                                              pairs(xs), eq(q, xs))))

    assert answers == [[(_0, _0), (_1, _1)]]


def test_goals_have_no_truth_value():
    with pytest.raises(TypeError):
        bool(eq(1, 1))
    with pytest.raises(TypeError):
        if membero(1, [1]):
            pass


def test_goals_are_goals():
    q = var()

    made = [eq(q, 1), conj(eq(q, 1), eq(q, 1)), disj(eq(q, 1), eq(q, 2)),
            conde([eq(q, 1)]), fresh(lambda x: eq(x, q)), membero(q, [1]),
            Facts("f", [(1,)])(q), pygoal(lambda s: [s]), succeed, fail]

    assert all(isinstance(goal, Goal) for goal in made)


# ---------------------------------------------------------------- relations


def test_relation_may_call_itself():
    q = var()

    @relation
    def lasto(lst, last):
        return conde(
            [eq(lst, [last])],
            [fresh(lambda h, t: conj(eq(lst, cons(h, t)), lasto(t, last)))],
        )

    assert run(0, q, lasto([1, 2, 3], q)) == [3]
    assert run(1, q, lasto(q, "z")) == [["z"]]


def test_relation_that_looks_at_its_arguments():
    q = var()

    @relation
    def describe(n, out):
        if n == 0:
            return eq(out, "zero")
        return eq(out, "other")

    assert run(0, q, describe(0, q)) == ["zero"]
    assert run(0, q, describe(5, q)) == ["other"]


def test_relation_that_asks_whether_an_argument_is_a_variable():
    q = var()

    @relation
    def kind(x, out):
        return eq(out, "variable") if is_var(x) else eq(out, "value")

    assert run(0, q, kind(1, q)) == ["value"]
    assert run(0, q, kind(var(), q)) == ["variable"]
    assert run(0, q, kind((1, 2), q)) == ["value"]


def test_relation_that_compares_two_of_its_arguments():
    q = var()

    @relation
    def same(a, b, out):
        return eq(out, "same") if a == b else eq(out, "different")

    assert run(0, q, same(1, 1, q)) == ["same"]
    assert run(0, q, same(1, 2, q)) == ["different"]


def test_dynamic_relation_sees_its_current_arguments():
    q, x = var(), var()
    seen = []

    @relation(dynamic=True)
    def record(value):
        seen.append(value)
        return succeed

    assert run(0, q, eq(x, ("bound", 1)), record(x)) == [_0]
    assert seen == [("bound", 1)]


def test_relation_named_explicitly():
    @relation(name="custom")
    def body(a):
        return eq(a, 1)

    assert body.name == "custom"
    assert run(0, var(), body(1)) == [_0]


# ---------------------------------------------------------------- lists


def test_conso_modes():
    q, h, t = var(), var(), var()

    assert run(0, q, conso(1, [2, 3], q)) == [[1, 2, 3]]
    assert run(0, q, conso(q, [2], [1, 2])) == [1]
    assert run(0, q, conso(1, q, [1, 2])) == [[2]]
    assert run(0, (h, t), conso(h, t, ["a"])) == [("a", [])]
    assert run(0, q, conso(1, q, [])) == []
    assert run(0, q, conso(1, 2, q)) == [Cons(1, 2)]


def test_heado_modes():
    q = var()

    assert run(0, q, heado(q, [1, 2])) == [1]
    assert run(0, q, heado(1, q)) == [Cons(1, _0)]
    assert run(0, q, heado(q, [])) == []
    assert run(0, q, heado(2, [1, 2])) == []


def test_tailo_modes():
    q = var()

    assert run(0, q, tailo(q, [1, 2, 3])) == [[2, 3]]
    assert run(0, q, tailo([2], q)) == [[_0, 2]]
    assert run(0, q, tailo(q, [])) == []


def test_membero_modes():
    q = var()

    assert run(0, q, membero(q, ["a", "b", "c"])) == ["a", "b", "c"]
    assert run(0, q, membero(2, [1, 2, 3])) == [_0]
    assert run(0, q, membero(2, [1, 2, 2])) == [_0, _0]
    assert run(0, q, membero(5, [1, 2])) == []
    assert run(0, q, membero(q, [])) == []
    assert run(3, q, membero("x", q)) == [
        Cons("x", _0), Cons(_0, Cons("x", _1)),
        Cons(_0, Cons(_1, Cons("x", _2))),
    ]


def test_membero_binds_inside_the_list():
    q, x = var(), var()

    assert run(0, q, eq(q, [1, x]), membero(7, q)) == [[1, 7]]


def test_appendo_forwards():
    q = var()

    assert run(0, q, appendo([1, 2], [3], q)) == [[1, 2, 3]]
    assert run(0, q, appendo([], [], q)) == [[]]


def test_appendo_backwards():
    q, x, y = var(), var(), var()

    assert run(0, q, appendo(q, [3], [1, 2, 3])) == [[1, 2]]
    assert run(0, q, appendo([1], q, [1, 2, 3])) == [[2, 3]]
    assert run(0, (x, y), appendo(x, y, [1, 2, 3])) == [
        ([], [1, 2, 3]), ([1], [2, 3]), ([1, 2], [3]), ([1, 2, 3], []),
    ]
    assert run(0, q, appendo(q, [9], [1, 2])) == []


def test_appendo_generates_partial_lists():
    x, y, z = var(), var(), var()

    answers = run(3, (x, y, z), appendo(x, y, z))

    assert answers == [
        ([], _0, _0),
        ([_0], _1, Cons(_0, _1)),
        ([_0, _1], _2, Cons(_0, Cons(_1, _2))),
    ]


def test_appendo_long_lists():
    x, y = var(), var()
    items = list(range(300))

    answers = run(0, (x, y), appendo(x, y, items))

    assert len(answers) == 301
    assert all(front + back == items for front, back in answers)


def test_rembero_modes():
    q = var()

    assert run(0, q, rembero(2, [1, 2, 3], q)) == [[1, 3]]
    assert run(0, q, rembero(1, [1, 2, 1], q)) == [[2, 1], [1, 2]]
    assert run(0, q, rembero(q, [1, 2, 3], [1, 3])) == [2]
    assert run(0, q, rembero(5, [1, 2], q)) == []
    assert sorted(run(0, q, rembero(2, q, [1, 3]))) == [
        [1, 2, 3], [1, 3, 2], [2, 1, 3],
    ]


def test_permuteo_forwards():
    q = var()

    answers = run(0, q, permuteo([1, 2, 3], q))

    assert len(answers) == 6
    assert sorted(answers) == [
        [1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1],
    ]


def permutations_backwards():
    q = var()
    return run(6, q, permuteo(q, ["a", "b", "c"]))


def test_permuteo_backwards():
    answers = within(5, permutations_backwards)

    assert len(answers) == 6
    assert sorted(answers) == sorted(
        [["a", "b", "c"], ["a", "c", "b"], ["b", "a", "c"],
         ["b", "c", "a"], ["c", "a", "b"], ["c", "b", "a"]]
    )


def test_permuteo_checks():
    q = var()

    assert run(0, q, permuteo([1, 2, 3], [3, 1, 2])) == [_0]
    assert run(0, q, permuteo([1, 2, 3], [3, 1, 1])) == []
    assert run(0, q, permuteo([], [])) == [_0]


# ---------------------------------------------------------------- Facts


def test_facts_queried_in_every_mode():
    parent = Facts("parent", [("abe", "homer"), ("homer", "bart"),
                              ("homer", "lisa")])
    x, y = var(), var()

    assert run(0, x, parent("homer", x)) == ["bart", "lisa"]
    assert run(0, x, parent(x, "bart")) == ["homer"]
    assert run(0, (x, y), parent(x, y)) == [
        ("abe", "homer"), ("homer", "bart"), ("homer", "lisa"),
    ]
    assert run(0, x, parent("abe", "homer")) == [_0]
    assert run(0, x, parent("bart", x)) == []


def test_facts_with_a_bound_argument_from_an_earlier_goal():
    edge = Facts("edge", [(i, i + 1) for i in range(100)])
    x, y = var(), var()

    assert run(0, y, eq(x, 41), edge(x, y)) == [42]


def test_facts_hold_compound_values():
    table = Facts("t", [((1, 2), ["a"]), ((3, 4), ["b"])])
    x, y = var(), var()

    assert run(0, y, table((x, 4), y)) == [["b"]]
    assert run(0, x, table((1, 2), [x])) == ["a"]


def test_facts_add_and_extend():
    table = Facts("t")
    table.add(1, "one")
    table.extend([(2, "two"), (3, "three")])
    q = var()

    assert len(table) == 3
    assert run(0, q, table(2, q)) == ["two"]


def test_facts_query_sees_the_facts_present_when_made():
    table = Facts("t", [(1,)])
    q = var()
    before = table(q)

    table.add(2)

    assert run(0, q, before) == [1]
    assert run(0, q, table(q)) == [1, 2]


def test_empty_facts_have_no_answers():
    empty = Facts("empty")
    q = var()

    assert len(empty) == 0
    assert run(0, q, empty(q)) == []
    assert run(0, q, empty(1, q)) == []
    assert run(0, q, empty(q, "bound")) == []


def test_facts_must_be_ground_and_of_one_width():
    table = Facts("t", [(1, 2)])

    with pytest.raises(ValueError):
        table.add(1, 2, 3)
    with pytest.raises(ValueError):
        table.add(1, var())
    with pytest.raises(TypeError):
        table(1)


# ---------------------------------------------------------------- pygoal


def test_pygoal_yields_substitutions():
    q = var()

    def upto(s):
        for n in range(3):
            yield unify(q, n, s)

    assert run(0, q, pygoal(upto)) == [0, 1, 2]


def test_pygoal_sees_the_current_state():
    q, x = var(), var()
    seen = []

    def look(s):
        seen.append(s[x])
        return [unify(q, s[x] * 2, s)]

    assert run(0, q, eq(x, 21), pygoal(look)) == [42]
    assert seen == [21]


def test_pygoal_none_is_failure():
    q = var()

    def some(s):
        yield None
        yield unify(q, "kept", s)
        yield unify(q, "unused", unify(q, "kept", s))

    assert run(0, q, pygoal(some)) == ["kept"]
    assert run(0, q, pygoal(lambda s: None)) == []


def test_pygoal_is_closed_when_the_search_stops_early():
    q = var()
    closed = []

    def naturals(s):
        try:
            n = 0
            while True:
                yield unify(q, n, s)
                n += 1
        finally:
            closed.append(True)

    assert run(2, q, pygoal(naturals)) == [0, 1]
    assert closed == [True]

    answers = run_iter(q, pygoal(naturals))
    next(answers)
    answers.close()
    assert closed == [True, True]


def test_pygoal_must_yield_substitutions():
    q = var()

    with pytest.raises(TypeError):
        run(1, q, pygoal(lambda s: [5]))


def test_pygoal_takes_a_callable():
    with pytest.raises(TypeError):
        pygoal(3)


# ---------------------------------------------------------------- bad input


def test_wrong_relation_arity():
    with pytest.raises(TypeError):
        membero(1)
    with pytest.raises(TypeError):
        appendo(1, 2, 3, 4)
    with pytest.raises(TypeError):
        nevero(1)


@pytest.mark.parametrize("not_a_goal", [1, "goal", None, [eq(1, 1)],
                                        lambda s: s], ids=repr)
def test_conj_and_disj_take_only_goals(not_a_goal):
    with pytest.raises(TypeError):
        conj(eq(1, 1), not_a_goal)
    with pytest.raises(TypeError):
        disj(not_a_goal)


def test_run_takes_only_goals():
    q = var()

    with pytest.raises(TypeError):
        run(1, q, "goal")
    with pytest.raises(TypeError):
        run_all(q, eq(q, 1), 3)


def test_conde_takes_lists_of_goals():
    with pytest.raises(TypeError):
        conde(5)
    with pytest.raises(TypeError):
        conde([eq(1, 1), "x"])


def test_fresh_takes_a_function_returning_a_goal():
    with pytest.raises(TypeError):
        fresh(3)
    with pytest.raises(TypeError):
        fresh(lambda x: 5)
    with pytest.raises(TypeError):
        fresh(lambda *xs: eq(1, 1))
    with pytest.raises(TypeError):
        fresh(-1, lambda: eq(1, 1))


def test_relation_takes_a_function():
    with pytest.raises(TypeError):
        relation(5)


def test_relation_returning_a_non_goal():
    q = var()

    @relation(dynamic=True)
    def broken(a):
        return "not a goal"

    with pytest.raises(TypeError):
        run(1, q, broken(q))
