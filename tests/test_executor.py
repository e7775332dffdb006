"""Parallel evaluation: ParallelExecutor, parallel_disj, parallel_run,
ParallelStream, and cases 33 and 35 of the behaviour cases.

Every blocking step here runs under a deadline, and the module has a hard
timeout, so a hang fails instead of stalling the suite.
"""

import concurrent.futures
import gc
import queue
import subprocess
import sys
import threading
import time
import weakref

import pytest

from kando_parallel import (
    Cancelled,
    DeadlineExceeded,
    Facts,
    ParallelConfig,
    ParallelExecutor,
    ParallelStream,
    PoolShutdownError,
    conj,
    disj,
    eq,
    fail,
    fresh,
    membero,
    parallel_run,
    pygoal,
    relation,
    run,
    unify,
    var,
    with_cancel,
)
from kando_parallel.puzzles.queens import is_solution, queens_goal
from kando_parallel.puzzles.zebra import zebra_goals

pytestmark = pytest.mark.timeout(120)


def config(workers=2, **options):
    return ParallelConfig(max_workers=workers, **options)


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Watched:
    """Python goals that never answer and record when they are closed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = 0
        self.closed = 0

    def goal(self):
        def forever(state):
            with self.lock:
                self.started += 1
            try:
                while True:
                    time.sleep(0.0005)
                    yield None
            finally:
                with self.lock:
                    self.closed += 1

        return pygoal(forever)


# ---------------------------------------------------------------- config


def test_config_defaults_and_validation():
    assert config(3).workers == 3
    assert config(3).queue_size == 30
    assert ParallelConfig().workers >= 1
    with pytest.raises(ValueError):
        ParallelConfig(max_workers=-1)
    with pytest.raises(TypeError):
        ParallelConfig(max_workers=1.5)
    with pytest.raises(ValueError):
        ParallelConfig(rate_limit=-2)
    with pytest.raises(TypeError):
        ParallelExecutor(config="fast")


# ---------------------------------------------------------------- answers


def test_parallel_run_finds_what_run_finds():
    queens, goal = queens_goal(6)
    with ParallelExecutor(config()) as executor:
        found = executor.run(0, queens, goal)

    assert sorted(found) == sorted(run(0, queens, goal))
    assert len(found) == 4
    assert all(is_solution(answer) for answer in found)


def test_eight_queens_on_two_workers_gives_92_distinct_solutions():
    queens, goal = queens_goal(8)
    with ParallelExecutor(config()) as executor:
        found = executor.run(0, queens, goal)

    assert len(found) == 92
    assert len(set(found)) == 92
    assert all(is_solution(answer) for answer in found)


def test_zebra_on_two_workers():
    _, owner, drinker, goals = zebra_goals()
    with ParallelExecutor(config()) as executor:
        found = executor.run(0, (owner, drinker), *goals)

    assert found == [("japanese", "norwegian")]


def test_run_n_gives_exactly_n_when_there_are_more():
    q = var()
    with ParallelExecutor(config()) as executor:
        found = executor.run(5, q, membero(q, list(range(100))))

    assert len(found) == 5
    assert len(set(found)) == 5


def test_run_rejects_a_bad_count():
    q = var()
    with ParallelExecutor(config()) as executor:
        with pytest.raises(ValueError):
            executor.run(-1, q, eq(q, 1))
        with pytest.raises(TypeError):
            executor.run(1.5, q, eq(q, 1))


def test_parallel_run_function_form():
    found = parallel_run(0, lambda q: membero(q, ["a", "b", "c"]), config())

    assert sorted(found) == ["a", "b", "c"]


def test_parallel_disj_as_a_goal_in_a_sequential_run():
    q = var()
    with ParallelExecutor(config()) as executor:
        goal = executor.parallel_disj(
            eq(q, 1), membero(q, [2, 3]), fail, eq(q, 4)
        )
        found = run(0, q, goal)

    assert sorted(found) == [1, 2, 3, 4]


def test_parallel_disj_keeps_the_state_it_starts_from():
    x, y = var(), var()
    with ParallelExecutor(config()) as executor:
        goal = conj(
            eq(x, "left"),
            executor.parallel_disj(eq(y, (x, 1)), eq(y, (x, 2))),
        )
        found = run(0, y, goal)

    assert sorted(found) == [("left", 1), ("left", 2)]


def test_parallel_disj_of_one_or_no_goal():
    q = var()
    with ParallelExecutor(config()) as executor:
        assert run(0, q, executor.parallel_disj()) == []
        assert run(0, q, executor.parallel_disj(eq(q, 7))) == [7]
        with pytest.raises(TypeError):
            executor.parallel_disj("not a goal")


def test_nested_parallel_disj_inside_a_parallel_run_does_not_deadlock():
    q = var()
    with ParallelExecutor(config()) as executor:
        inner = executor.parallel_disj(eq(q, 1), eq(q, 2))
        outer = executor.parallel_disj(inner, eq(q, 3))
        found = executor.run(0, q, outer, timeout=20)

    assert sorted(found) == [1, 2, 3]


def test_parallel_disj_of_two_executors_nested_does_not_deadlock():
    q = var()
    with ParallelExecutor(config()) as first, \
            ParallelExecutor(config()) as second:
        inner = first.parallel_disj(eq(q, 1), eq(q, 2))
        outer = second.parallel_disj(inner, eq(q, 3))
        on_first = first.run(0, q, outer, timeout=20)
        on_second = second.run(0, q, outer, timeout=20)

    assert sorted(on_first) == sorted(on_second) == [1, 2, 3]


def test_an_error_in_a_branch_reaches_the_caller():
    @relation(dynamic=True)
    def broken(x):
        raise ArithmeticError("this branch is broken")

    q = var()
    with ParallelExecutor(config()) as executor:
        with pytest.raises(ArithmeticError, match="broken"):
            executor.run(0, q, disj(membero(q, [1, 2]), broken(q)))


def test_timeout_raises_deadline_exceeded():
    @relation
    def nevero():
        return nevero()

    q = var()
    with ParallelExecutor(config()) as executor:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            executor.run(0, q, nevero(), timeout=0.3)
        assert time.monotonic() - start < 5


def test_submit_after_shutdown_is_refused():
    q = var()
    executor = ParallelExecutor(config())
    executor.shutdown()

    with pytest.raises(PoolShutdownError):
        executor.run(0, q, eq(q, 1))


def test_rate_limit_paces_the_searches_started():
    q = var()
    with ParallelExecutor(config(rate_limit=1000)) as executor:
        found = executor.run(0, q, membero(q, list(range(50))))

    assert sorted(found) == list(range(50))


def test_backpressure_bounds_the_answers_in_flight():
    q = var()
    loads = []
    with ParallelExecutor(config(max_queue_size=10)) as executor:
        controller = executor._backpressure
        with executor.search(q, membero(q, list(range(500)))) as found:
            for count, _ in enumerate(found):
                loads.append(controller.current_load)
                if count % 50 == 0:
                    time.sleep(0.02)

    assert len(loads) == 500
    # The high water mark is 8 of 10; a worker already past its check
    # may add one more answer each.
    assert max(loads) <= 8 + 2


# ---------------------------------------------------------------- case 33


def test_case_33a_cancel_reaches_every_branch():
    watched = Watched()
    q = var()
    ctx = with_cancel()
    outcome = {}

    with ParallelExecutor(config(workers=5)) as executor:
        goal = executor.parallel_disj(*[watched.goal() for _ in range(5)])

        def consume():
            try:
                outcome["answers"] = executor.run(0, q, goal, ctx=ctx)
            except BaseException as exc:
                outcome["error"] = exc

        consumer = threading.Thread(target=consume)
        consumer.start()
        assert wait_until(lambda: watched.started == 5, 10)

        cancelled_at = time.monotonic()
        ctx.cancel()
        assert wait_until(lambda: watched.closed == 5, 1.0)
        assert time.monotonic() - cancelled_at < 1.0

        consumer.join(10)
        assert not consumer.is_alive()
        assert wait_until(lambda: executor.pool.running == 0, 5)

    assert "answers" not in outcome
    assert isinstance(outcome["error"], Cancelled)


def test_case_33b_run_1_cancels_the_other_branches():
    watched = Watched()
    q = var()

    with ParallelExecutor(config(workers=5)) as executor:
        branches = [eq(q, "at once")] + [watched.goal() for _ in range(4)]
        goal = executor.parallel_disj(*branches)
        start = time.monotonic()
        found = executor.run(1, q, goal)
        returned = time.monotonic()

        assert found == ["at once"]
        assert wait_until(lambda: watched.closed == watched.started, 1.0)
        assert returned - start < 5
        assert wait_until(lambda: executor.pool.running == 0, 5)


# ---------------------------------------------------------------- case 35


def test_case_35a_branches_without_answers_do_not_stall_run_n():
    q = var()
    branches = [fail] * 7 + [membero(q, ["a", "b", "c"])]
    with ParallelExecutor(config()) as executor:
        goal = executor.parallel_disj(*branches)

        start = time.monotonic()
        two = executor.run(2, q, goal)
        five = executor.run(5, q, goal)
        elapsed = time.monotonic() - start

    assert len(two) == 2 and set(two) <= {"a", "b", "c"}
    assert sorted(five) == ["a", "b", "c"]
    assert elapsed < 2.0


def produced(answers):
    """A stream whose items come from a producer thread, then its end."""
    channel = queue.Queue()
    done = object()

    def producer():
        for answer in answers:
            channel.put(answer)
        channel.put(done)

    threading.Thread(target=producer).start()

    def items():
        while True:
            item = channel.get(timeout=5)
            if item is done:
                return
            yield item

    return items()


def test_case_35b_has_more_is_decided_not_guessed():
    with ParallelExecutor(config()) as executor:
        for _ in range(10_000):
            stream = ParallelStream(produced(["only"]), executor)
            assert stream.take(1) == (["only"], False)
        for _ in range(1_000):
            stream = ParallelStream(produced(["one", "two"]), executor)
            assert stream.take(1) == (["one"], True)


# ---------------------------------------------------------------- streams


def test_take_counts():
    with ParallelExecutor(config()) as executor:
        assert ParallelStream(range(3), executor).take(0) == ([], True)
        assert ParallelStream(range(3), executor).take(2**64) == (
            [0, 1, 2], False)
        with pytest.raises(ValueError, match="take"):
            ParallelStream(range(3), executor).take(-1)
        with pytest.raises(TypeError, match="take"):
            ParallelStream(range(3), executor).take(1.5)


def test_parallel_map_filter_and_collect():
    with ParallelExecutor(config()) as executor:
        squares = ParallelStream(range(20), executor).parallel_map(
            lambda n: n * n
        )
        assert sorted(squares.collect()) == [n * n for n in range(20)]

        evens = ParallelStream(range(20), executor).parallel_filter(
            lambda n: n % 2 == 0
        )
        assert sorted(evens.collect()) == list(range(0, 20, 2))


def test_stream_of_a_parallel_search():
    q = var()
    with ParallelExecutor(config()) as executor:
        stream = executor.stream(q, membero(q, [1, 2, 3]))
        items, more = stream.take(2)
        rest = stream.collect()

    assert len(items) == 2 and more
    assert sorted(items + rest) == [1, 2, 3]


# ---------------------------------------------------------------- processes


def membership(q):
    return membero(q, ["x", "y", "z"])


def queens_six(q):
    queens, goal = queens_goal(6)
    return conj(goal, eq(q, queens))


def test_parallel_run_on_a_process_pool():
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        letters = parallel_run(0, membership, config(), executor=pool)
        boards = parallel_run(0, queens_six, config(), executor=pool)
        two = parallel_run(2, queens_six, config(), executor=pool)

    assert sorted(letters) == ["x", "y", "z"]
    assert len(boards) == 4 and len(set(boards)) == 4
    assert all(is_solution(board) for board in boards)
    assert len(two) == 2


@relation
def naturals(n):
    return disj(eq(n, 0), fresh(lambda m: conj(naturals(m), eq(n, (m,)))))


def no_answer_ever(q):
    # An endless search with a single pending task: it never grows the
    # frontier that the shares are dealt from.
    return conj(naturals(q), eq(q, "never"))


def test_parallel_run_on_a_process_pool_stops_every_share_at_its_timeout():
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            parallel_run(0, no_answer_ever, config(), executor=pool,
                         timeout=0.5)
        raised = time.monotonic() - start
        # The shares in the worker processes give up on their own, so the
        # pool has nothing left to wait for.
        pool.shutdown(wait=True)
        finished = time.monotonic() - start

    assert raised < 5
    assert finished < 10


def test_parallel_run_on_a_process_pool_honours_its_context():
    ctx = with_cancel()
    ctx.cancel()
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(Cancelled):
            parallel_run(0, membership, config(), executor=pool, ctx=ctx)

        ctx = with_cancel()
        threading.Timer(0.3, ctx.cancel).start()
        start = time.monotonic()
        with pytest.raises(Cancelled):
            parallel_run(0, no_answer_ever, config(), executor=pool,
                         ctx=ctx, timeout=3)
        assert time.monotonic() - start < 2


EXIT_SCRIPT = """
import concurrent.futures, sys
from kando_parallel import (ParallelConfig, ParallelExecutor, conj, disj,
                            eq, fresh, relation, var)

@relation
def naturals(n):
    return disj(eq(n, 0), fresh(lambda m: conj(naturals(m), eq(n, (m,)))))

q = var()
pool = None
if sys.argv[1] == "thread-pool":
    pool = concurrent.futures.ThreadPoolExecutor(2)
executor = ParallelExecutor(ParallelConfig(max_workers=2), executor=pool)
answers = executor.search(q, naturals(q))
print(next(answers), flush=True)
"""


@pytest.mark.parametrize("pool", ["own-pool", "thread-pool"])
def test_exit_does_not_wait_for_a_search_left_unfinished(tmp_path, pool):
    # An endless search, read once and never closed, on an executor that
    # is never shut down: the interpreter must still exit.
    script = tmp_path / "left_running.py"
    script.write_text(EXIT_SCRIPT)
    done = subprocess.run([sys.executable, str(script), pool],
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "0\n"


def test_closed_or_finished_searches_are_not_kept():
    q = var()
    with ParallelExecutor(config()) as executor:
        refs = []
        for _ in range(20):
            search = executor.search(q, membero(q, list(range(50))))
            next(search)
            search.close()
            refs.append(weakref.ref(search))
        for _ in range(20):
            with executor.search(q, membero(q, [1, 2])) as search:
                assert sorted(search) == [1, 2]
            refs.append(weakref.ref(search))
        del search
        gc.collect()

        assert [ref for ref in refs if ref() is not None] == []


def test_parallel_run_on_a_process_pool_needs_a_picklable_function():
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(TypeError, match="picklable"):
            parallel_run(0, lambda q: eq(q, 1), config(), executor=pool)


def test_parallel_executor_refuses_a_process_pool():
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(TypeError, match="parallel_run"):
            ParallelExecutor(config(), executor=pool)


def test_parallel_executor_on_a_thread_pool_of_the_standard_library():
    q = var()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with ParallelExecutor(config(), executor=pool) as executor:
            found = executor.run(0, q, membero(q, [1, 2, 3]))

    assert sorted(found) == [1, 2, 3]


def test_fact_tables_are_shared_by_the_workers():
    edges = Facts("edge", [(a, b) for a in range(30) for b in range(30)
                           if a != b])
    x, y = var(), var()
    with ParallelExecutor(config()) as executor:
        found = executor.run(0, (x, y), edges(x, y), eq(x, 3))

    assert sorted(found) == [(3, b) for b in range(30) if b != 3]


def test_a_substitution_escapes_no_worker():
    q = var()
    with ParallelExecutor(config()) as executor:
        goal = executor.parallel_disj(
            fresh(lambda a: conj(eq(a, 1), eq(q, (a, a)))),
            eq(q, (2, 2)),
        )
        found = run(0, q, goal)

    assert sorted(found) == [(1, 1), (2, 2)]
    assert unify(q, 1) is not None


def test_an_early_stop_gives_its_load_back_to_the_next_run():
    q = var()
    with ParallelExecutor(config(max_queue_size=4)) as executor:
        for _ in range(20):
            assert len(executor.run(1, q, membero(q, list(range(200))))) == 1
        assert executor._backpressure.current_load == 0
        assert not executor._backpressure.paused
        found = executor.run(0, q, membero(q, [1, 2, 3]), timeout=20)

    assert sorted(found) == [1, 2, 3]
