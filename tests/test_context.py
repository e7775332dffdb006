"""Contexts: cancellation, deadlines, parents and children."""

import gc
import threading
import time
import weakref

import pytest

from kando_parallel.context import (
    CancelContext,
    background,
    with_cancel,
    with_deadline,
    with_timeout,
)
from kando_parallel.errors import Cancelled, DeadlineExceeded

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)


def test_background_is_never_done():
    ctx = background()
    assert ctx is background()
    assert not ctx.done() and ctx.err() is None and ctx.deadline is None
    assert ctx.wait(0.01) is False
    assert ctx.add_done_callback(lambda c: None) is None
    assert not hasattr(ctx, "cancel")


def test_cancel_reaches_children_and_callbacks_once():
    parent = with_cancel(background())
    child = with_cancel(parent)
    grandchild = with_timeout(child, 60)
    seen = []
    parent.add_done_callback(lambda c: seen.append("parent"))
    grandchild.add_done_callback(lambda c: seen.append("grandchild"))

    parent.cancel()
    parent.cancel()
    assert isinstance(grandchild.err(), Cancelled)
    assert isinstance(child.err(), Cancelled)
    assert sorted(seen) == ["grandchild", "parent"]
    assert grandchild.wait(0) is True


def test_cancelling_a_child_leaves_the_parent_running():
    parent = with_cancel()
    child = with_cancel(parent)
    child.cancel()
    assert child.done() and not parent.done()


@pytest.mark.timeout(10)
def test_deadline_expires_without_anyone_asking():
    ctx = with_timeout(background(), 0.05)
    fired = threading.Event()
    ctx.add_done_callback(lambda c: fired.set())
    assert fired.wait(2.0), "the timer never expired the context"
    assert isinstance(ctx.err(), DeadlineExceeded)
    assert isinstance(ctx.err(), TimeoutError)


def test_child_deadline_is_the_earlier_of_its_own_and_its_parents():
    parent = with_timeout(background(), 5)
    assert with_timeout(parent, 60).deadline == parent.deadline
    assert with_timeout(parent, 1).deadline < parent.deadline
    at = time.monotonic() + 2
    assert with_deadline(parent, at).deadline == at


def test_past_deadline_is_done_at_once():
    ctx = with_deadline(background(), time.monotonic() - 1)
    assert ctx.done()
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_child_of_a_done_parent_is_born_done():
    parent = with_cancel()
    parent.cancel()
    child = with_timeout(parent, 10)
    assert isinstance(child.err(), Cancelled)


def test_callback_on_a_done_context_runs_at_once():
    ctx = with_cancel()
    ctx.cancel()
    seen = []
    assert ctx.add_done_callback(seen.append) is None
    assert seen == [ctx]


def test_removed_callback_never_runs():
    ctx = with_cancel()
    seen = []
    handle = ctx.add_done_callback(seen.append)
    assert ctx.remove_done_callback(handle)
    assert not ctx.remove_done_callback(handle)
    ctx.cancel()
    assert seen == []


def test_raising_callback_is_logged_and_the_rest_still_run(caplog):
    ctx = with_cancel()
    seen = []

    def bad(_ctx):
        raise RuntimeError("boom")

    ctx.add_done_callback(bad)
    ctx.add_done_callback(seen.append)
    ctx.cancel()
    assert seen == [ctx]
    assert any(r.name == "kando_parallel" for r in caplog.records)


def test_context_manager_cancels_on_exit():
    with with_cancel() as ctx:
        assert not ctx.done()
    assert isinstance(ctx.err(), Cancelled)


def test_finished_children_are_not_kept_by_the_parent():
    parent = with_cancel()
    refs = []
    for _ in range(100):
        child = with_timeout(parent, 3600)
        refs.append(weakref.ref(child))
        child.cancel()
    del child
    gc.collect()
    assert all(r() is None for r in refs)
    assert len(parent._children) == 0


def test_dropped_running_children_are_collected():
    parent = with_cancel()
    refs = [weakref.ref(with_cancel(parent)) for _ in range(50)]
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.timeout(10)
def test_wait_returns_when_cancelled_from_another_thread():
    ctx = with_cancel()
    timer = threading.Timer(0.05, ctx.cancel)
    timer.start()
    assert ctx.wait(5.0) is True
    timer.join(5)


def test_wait_with_timeout_returns_false_while_running():
    assert with_cancel().wait(0.01) is False


def test_parent_must_be_a_context():
    with pytest.raises(TypeError):
        CancelContext(object())
