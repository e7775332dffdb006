"""Several threads at once on the core's shared state.

On a free-threaded CPython these run truly in parallel; on a GIL build
they still interleave, because the search loop and unify release the
GIL.  Each test starts its threads together at a barrier and fails on
any exception, wrong answer or crash.
"""

import threading

import pytest

from kando_parallel import (
    Facts,
    Search,
    conde,
    conj,
    eq,
    fresh,
    membero,
    relation,
    run,
    var,
)

THREADS = 8

pytestmark = pytest.mark.timeout(300)


def hammer(work, rounds=100, threads=THREADS):
    barrier = threading.Barrier(threads)
    errors = []

    def worker(index):
        barrier.wait()
        try:
            for round_ in range(rounds):
                work(index, round_)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    started = [
        threading.Thread(target=worker, args=(i,)) for i in range(threads)
    ]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    assert not errors, errors[0]


def test_atoms_and_variables_interned_from_many_threads():
    # The atom table (lock, chunks, published count) and the id counter.
    def work(index, round_):
        shared = [f"shared-{round_ % 7}-{k}" for k in range(20)]
        own = [f"own-{index}-{round_}", (index, round_), 2**70 + round_]
        values = shared + own
        q = var()
        assert run(0, q, membero(q, values)) == values

    hammer(work)


def test_relation_traced_by_many_threads_at_once():
    # A new relation each round, so that its template is traced and
    # published while the other threads expand it.
    def work(index, round_):
        @relation
        def nat(n):
            return conde(
                [eq(n, 0)],
                [fresh(lambda m: conj(eq(n, ("s", m)), nat(m)))],
            )

        q = var()
        assert len(run(20, q, nat(q))) == 20

    hammer(work, rounds=20)


def test_one_goal_run_by_many_threads():
    # Shared goal DAG, continuations and tries: reference counts only.
    q = var()
    goal = membero(q, list(range(200)))

    def work(index, round_):
        assert run(0, q, goal) == list(range(200))

    hammer(work)


def test_facts_queried_first_by_many_threads():
    # The first query after a change builds the C snapshot: the case
    # docs/install.md names as a known gap on free-threaded builds.
    tables = [Facts("edge", [("a", "b"), ("b", "c")]) for _ in range(100)]

    def work(index, round_):
        q = var()
        assert run(0, q, tables[round_](q, "b")) == ["a"]

    hammer(work, rounds=len(tables))


def test_search_stepped_by_two_threads_is_refused():
    q = var()
    search = Search(q, membero(q, list(range(100_000))))
    refused = []

    def work(index, round_):
        try:
            search.step(1000)
        except RuntimeError:
            refused.append(index)

    hammer(work, rounds=50, threads=2)

    # Whatever interleaving happened, the search is still whole.
    while search.step(100_000) != Search.EXHAUSTED:
        pass


def test_cancel_from_another_thread():
    @relation
    def forever(x):
        return conde([forever(x)], [forever(x)])

    q = var()
    search = Search(q, forever(q))
    timer = threading.Timer(0.2, search.cancel)
    timer.start()
    while search.step(10_000) == Search.BUDGET:
        pass
    timer.join()
    assert search.cancelled
