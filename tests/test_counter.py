"""The load counter of the core, compiled and pure: case 29 and more."""

import pickle
import random
import threading

import pytest

from primitives_support import core_modules, impl_params, run_threads

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)

CASE_29 = [
    ("add", 79, 79, False),
    ("add", 1, 80, True),
    ("remove", 0, 80, True),
    ("remove", 30, 50, True),
    ("remove", 29, 21, True),
    ("remove", 1, 20, False),
    ("add", 59, 79, False),
    ("remove", 79, 0, False),
    ("add", 85, 85, True),
    ("remove", 200, 0, False),
]


@impl_params("counter")
def test_case_29_watermark_table(impl):
    c = impl.LoadCounter(80, 20)
    for op, n, load, paused in CASE_29:
        getattr(c, f"{op}_load")(n)
        assert (c.current_load, c.paused) == (load, paused), (op, n)


@impl_params("counter")
def test_case_29_transitions_are_reported_once(impl):
    c = impl.LoadCounter(80, 20)
    flags = [getattr(c, f"{op}_load")(n) for op, n, _, _ in CASE_29]
    assert flags == [0, impl.PAUSED, 0, 0, 0, impl.RESUMED, 0, 0,
                     impl.PAUSED, impl.RESUMED]


@impl_params("counter")
def test_case_29_raising_marks_while_paused_resumes_at_once(impl):
    c = impl.LoadCounter(80, 20)
    c.add_load(85)
    assert c.paused
    c.high_water_mark = 200
    assert c.paused
    assert c.set_water_marks(200, 100) == impl.RESUMED
    assert not c.paused and c.current_load == 85

    c = impl.LoadCounter(80, 20)
    c.add_load(85)
    c.high_water_mark = 200
    c.low_water_mark = 100
    assert not c.paused


@impl_params("counter")
def test_case_29_lowering_marks_below_the_load_pauses_at_once(impl):
    c = impl.LoadCounter(80, 20)
    c.add_load(50)
    assert not c.paused
    c.high_water_mark = 40
    assert c.paused
    c.low_water_mark = 10
    assert (c.high_water_mark, c.low_water_mark) == (40, 10)
    assert c.paused


@impl_params("counter")
def test_zero_load_is_never_paused(impl):
    c = impl.LoadCounter(1, 0)
    assert not c.paused
    c.add_load(0)
    assert not c.paused
    c.add_load(1)
    assert c.paused
    c.remove_load(1)
    assert not c.paused and c.current_load == 0


@impl_params("counter")
@pytest.mark.parametrize("high, low", [(0, 0), (5, 5), (5, 7), (3, -1),
                                       (2**31, 1)])
def test_bad_marks_are_refused(impl, high, low):
    with pytest.raises(ValueError):
        impl.LoadCounter(high, low)
    c = impl.LoadCounter(10, 2)
    with pytest.raises(ValueError):
        c.set_water_marks(high, low)
    assert (c.high_water_mark, c.low_water_mark) == (10, 2)


@impl_params("counter")
def test_single_mark_setters_keep_low_below_high(impl):
    c = impl.LoadCounter(10, 2)
    with pytest.raises(ValueError):
        c.low_water_mark = 10
    with pytest.raises(ValueError):
        c.high_water_mark = 2
    with pytest.raises(ValueError):
        c.high_water_mark = 0
    assert (c.high_water_mark, c.low_water_mark) == (10, 2)


@impl_params("counter")
def test_negative_amounts_are_refused(impl):
    c = impl.LoadCounter(10, 2)
    with pytest.raises(ValueError):
        c.add_load(-1)
    with pytest.raises(ValueError):
        c.remove_load(-1)
    with pytest.raises(TypeError):
        c.add_load(1.5)
    assert c.current_load == 0


@impl_params("counter")
def test_load_saturates_instead_of_wrapping(impl):
    c = impl.LoadCounter(10, 2)
    c.add_load(2**62)
    c.add_load(2**62)
    assert c.current_load == impl.LOAD_MAX
    assert c.paused
    with pytest.raises(OverflowError):
        c.add_load(2**63)


@impl_params("counter")
def test_transition_hook_is_called_with_the_flags(impl):
    seen = []

    class Hooked(impl.LoadCounter):
        def _transition(self, flags):
            seen.append(flags)

    c = Hooked(4, 1)
    c.add_load(3)
    c.add_load(1)
    c.remove_load(3)
    assert seen == [impl.PAUSED, impl.RESUMED]


def test_compiled_and_pure_agree_on_random_sequences():
    modules = core_modules("counter")
    if len(modules) < 2:
        pytest.skip("the compiled core is not built in this run")
    rng = random.Random(29)
    for _ in range(300):
        high = rng.randint(1, 50)
        low = rng.randint(0, high - 1)
        counters = [m.LoadCounter(high, low) for m in modules]
        for _ in range(40):
            op = rng.choice(["add", "remove", "marks", "high", "low"])
            n = rng.randint(0, 60)
            low = rng.randint(-2, n)
            results = []
            for c in counters:
                try:
                    if op == "marks":
                        got = c.set_water_marks(n, low)
                    elif op == "high":
                        c.high_water_mark = n
                        got = None
                    elif op == "low":
                        c.low_water_mark = n // 3
                        got = None
                    else:
                        got = getattr(c, f"{op}_load")(n)
                except ValueError:
                    got = "ValueError"
                results.append((got, c.current_load, c.paused,
                                c.high_water_mark, c.low_water_mark))
            assert results[0] == results[1], op


@impl_params("counter")
@pytest.mark.timeout(60)
def test_threads_hammering_one_counter_lose_nothing(impl):
    c = impl.LoadCounter(1000, 10)
    flags = []
    flags_lock = threading.Lock()
    rounds = 20_000

    def hammer():
        mine = []
        for k in range(rounds):
            mine.append(c.add_load(3))
            mine.append(c.remove_load(3))
            if k % 1000 == 0:
                mine.append(c.set_water_marks(1000, 10))
        with flags_lock:
            flags.extend(mine)

    run_threads(hammer, 4, 50)
    assert c.current_load == 0
    assert not c.paused
    paused = sum(1 for f in flags if f & impl.PAUSED)
    resumed = sum(1 for f in flags if f & impl.RESUMED)
    assert paused == resumed


@impl_params("counter")
@pytest.mark.timeout(60)
def test_threads_crossing_the_marks_keep_transitions_alternating(impl):
    c = impl.LoadCounter(4, 1)
    flags = []
    flags_lock = threading.Lock()

    def hammer():
        mine = []
        for _ in range(10_000):
            mine.append(c.add_load(2))
            mine.append(c.remove_load(2))
        with flags_lock:
            flags.extend(mine)

    run_threads(hammer, 4, 50)
    paused = sum(1 for f in flags if f & impl.PAUSED)
    resumed = sum(1 for f in flags if f & impl.RESUMED)
    assert c.current_load == 0 and not c.paused
    assert paused == resumed


@impl_params("counter")
def test_counters_are_not_picklable_in_either_implementation(impl):
    with pytest.raises(TypeError):
        pickle.dumps(impl.LoadCounter(2, 1))
