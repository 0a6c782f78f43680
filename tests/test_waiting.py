"""wait_until: the one way kafkalab waits for something."""

from __future__ import annotations

import time

import pytest

from kafkalab.core.errors import ClusterError, KafkalabError
from kafkalab.core.waiting import WaitTimeout, wait_until


def test_returns_the_first_truthy_value() -> None:
    answers = iter([None, 0, [], "", ["broker 1"]])
    assert wait_until(lambda: next(answers), 5, "brokers listed", interval=0) == ["broker 1"]


def test_times_out_naming_what_and_how_long_and_asks_detail_only_then() -> None:
    asked: list[str] = []

    def detail() -> str:
        asked.append("detail")
        return "registered: [1], waiting for [2]"

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: False, 0.3, "brokers registered", interval=0.05, detail=detail)
    assert time.monotonic() - started < 5  # bounded by the timeout, not by a stray sleep
    assert str(raised.value) == "brokers registered not after 0.3 s: registered: [1], waiting for [2]"
    assert asked == ["detail"]
    assert isinstance(raised.value, TimeoutError) and isinstance(raised.value, KafkalabError)

    wait_until(lambda: True, 1, "ready at once", detail=detail)
    assert asked == ["detail"]  # not asked when the condition holds


def test_a_specific_error_type_and_a_condition_that_stops_early() -> None:
    with pytest.raises(ClusterError, match=r"^topic t: a leader for every partition not after 0.1 s$"):
        wait_until(lambda: False, 0.1, "topic t: a leader for every partition", interval=0.02, error=ClusterError)

    calls = []

    def dies() -> bool:
        calls.append(1)
        raise ClusterError("broker 2 exited with code 1")

    with pytest.raises(ClusterError, match="exited with code 1"):
        wait_until(dies, 60, "brokers registered")
    assert len(calls) == 1  # the condition's own error ends the wait at once
