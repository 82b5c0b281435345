"""The child-process wall clock: messages stream, a hung child is killed, its last messages are kept."""

from __future__ import annotations

import time

from optplace.isolation import run_isolated
from tests.exact import targets


def test_messages_arrive_in_order_and_the_child_exits_cleanly():
    """Everything the child emits reaches the parent, in order; exit code 0."""
    seen = []
    outcome = run_isolated(
        targets.stream_then_finish, {"count": 5}, time_limit_s=30, on_message=lambda k, d: seen.append((k, d))
    )
    assert outcome.messages == seen
    assert [d for k, d in outcome.messages if k == "incumbent"] == [0, 1, 2, 3, 4]
    assert outcome.messages[-1] == ("done", 5)
    assert outcome.exitcode == 0
    assert not outcome.killed


def test_a_hung_child_is_killed_and_keeps_what_it_streamed():
    """At the limit plus grace the child is killed; incumbents and bounds sent before stay."""
    started = time.monotonic()
    outcome = run_isolated(targets.stream_then_hang, {"sleep_s": 60}, time_limit_s=0.5, grace_s=0.2)
    assert outcome.killed
    assert ("incumbent", "early") in outcome.messages
    assert ("bound", 7.0) in outcome.messages
    assert ("incumbent", "too late") not in outcome.messages
    assert time.monotonic() - started < 30  # killed, not waited for (generous: never a tight timing)


def test_an_exception_in_the_child_is_reported_with_its_traceback():
    """A raising target sends an error message with the traceback after what it had sent."""
    outcome = run_isolated(targets.fail, {}, time_limit_s=30)
    assert outcome.messages[0] == ("incumbent", "before the failure")
    assert outcome.error is not None
    assert "the solver blew up" in outcome.error
    assert not outcome.killed
