"""Hold SIGTERM/SIGINT off while the test bed cleans up, and deliver them afterwards.

A second SIGTERM (a `timeout` that signals the process group, an impatient Ctrl-C) used to
land in the middle of stop() as a KeyboardInterrupt and leave a real node's namespaces,
mounts and containers behind. Cleanup is bounded by its own timeouts, so it is safe to
finish it first: the signal is recorded, and raised as KeyboardInterrupt at the end.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_HELD = (signal.SIGTERM, signal.SIGINT)


class Held:
    def __init__(self) -> None:
        self.received: int | None = None

    def record(self, signum, _frame) -> None:
        self.received = self.received or signum


@contextlib.contextmanager
def held_signals() -> Iterator[Held]:
    """Within the block, SIGTERM and SIGINT are only recorded (main thread; elsewhere a no-op).
    On leaving, the old handlers are back and a recorded signal raises KeyboardInterrupt."""
    held = Held()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {signum: signal.signal(signum, held.record) for signum in _HELD}
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held.received is not None:
        raise KeyboardInterrupt(f"signal {held.received} (held during cleanup)")
