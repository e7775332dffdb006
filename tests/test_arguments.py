"""Bad arguments to the parallel building blocks: the same named error,
with a message naming the argument, on both backends."""

import pytest

from kando_parallel import BackpressureController, RateLimiter, WorkerPool

BAD = [
    (lambda: RateLimiter(10, burst=2.5), TypeError, "burst"),
    (lambda: RateLimiter(10, burst=0), ValueError, "burst"),
    (lambda: RateLimiter(float("nan")), ValueError, "tokens_per_second"),
    (lambda: RateLimiter(float("inf")), ValueError, "tokens_per_second"),
    (lambda: RateLimiter(0), ValueError, "tokens_per_second"),
    (lambda: RateLimiter("10"), TypeError, "tokens_per_second"),
    (lambda: BackpressureController(2.5), TypeError, "max_queue_size"),
    (lambda: BackpressureController("3"), TypeError, "max_queue_size"),
    (lambda: BackpressureController(0), ValueError, "max_queue_size"),
    (lambda: WorkerPool(2.5), TypeError, "max_workers"),
    (lambda: WorkerPool(2, max_queue_size=0), ValueError, "max_queue_size"),
    (lambda: WorkerPool(2, max_queue_size=1.5), TypeError,
     "max_queue_size"),
]


@pytest.mark.parametrize("make, error, name", BAD,
                         ids=[f"{i}-{name}" for i, (_, _, name)
                              in enumerate(BAD)])
def test_bad_construction_names_the_argument(make, error, name):
    with pytest.raises(error, match=name):
        make()


class Seven:
    """Not an int, but a whole number all the same (it has __index__)."""

    def __index__(self):
        return 7


def test_whole_numbers_of_any_integer_type_are_taken():
    assert RateLimiter(100, burst=Seven()).burst == 7
    assert BackpressureController(Seven()).max_queue_size == 7
