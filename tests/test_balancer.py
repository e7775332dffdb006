"""LoadBalancer: case 31, the Worker protocol, contexts."""

import threading

import pytest

from kando_parallel.balancer import LoadBalancer, Worker
from kando_parallel.context import with_cancel
from kando_parallel.errors import Cancelled, NoWorkersError

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)


class Recorder:
    def __init__(self, name, log=None):
        self.id = name
        self.log = [] if log is None else log
        self.count = 0
        self.lock = threading.Lock()

    def process(self, task, ctx):
        with self.lock:
            self.count += 1
        self.log.append(self.id)
        return (self.id, task, ctx)


def test_workers_follow_the_protocol():
    assert isinstance(Recorder("w"), Worker)
    assert not isinstance(object(), Worker)


def test_case_31_sequence_starts_at_worker_zero():
    log = []
    lb = LoadBalancer([Recorder(k, log) for k in range(3)])
    for task in range(7):
        lb.submit(task)
    assert log == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.timeout(60)
def test_case_31_exactly_fair_under_concurrent_submitters():
    workers = [Recorder(k) for k in range(4)]
    lb = LoadBalancer(workers)

    def submitter():
        for task in range(3000):
            lb.submit(task)

    threads = [threading.Thread(target=submitter, daemon=True)
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
        assert not t.is_alive()
    assert [w.count for w in workers] == [6000] * 4


def test_no_workers_is_a_clear_error():
    lb = LoadBalancer([])
    with pytest.raises(NoWorkersError, match="no workers"):
        lb.submit("task")
    with pytest.raises(ValueError):
        lb.submit("task")


def test_worker_gets_the_context_and_errors_reach_the_submitter():
    class Failing:
        id = "bad"

        def process(self, task, ctx):
            raise LookupError(task)

    lb = LoadBalancer([Recorder("ok"), Failing()])
    ctx = with_cancel()
    assert lb.submit("t", ctx=ctx) == ("ok", "t", ctx)
    with pytest.raises(LookupError):
        lb.submit("u")
    ctx.cancel()
    with pytest.raises(Cancelled):
        lb.submit("v", ctx=ctx)
    assert len(lb) == 2


def test_timeout_gives_the_worker_an_expiring_child_context():
    lb = LoadBalancer([Recorder("w")])
    _id, _task, ctx = lb.submit("t", timeout=30)
    assert ctx.deadline is not None
    assert ctx.done()
