"""One way to wait for something: poll a condition until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kafkalab.core.errors import KafkalabError

T = TypeVar("T")


class WaitTimeout(KafkalabError, TimeoutError):
    """A condition did not hold in time; the message says what was awaited and for how long."""


def wait_until(
    condition: Callable[[], T], timeout: float, what: str, *, interval: float = 0.2,
    detail: Callable[[], str] | None = None, error: type[Exception] = WaitTimeout,
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    Raises `error` ("<what> not after <timeout> s[: <detail()>]") when `timeout` seconds pass
    first. `detail` says what was seen instead (e.g. the last log line), asked only then.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            message = f"{what} not after {timeout:g} s"
            if detail is not None:
                message += f": {detail()}"
            raise error(message)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
