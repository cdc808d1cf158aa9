"""Propagation delay in user space: netem is not always there, so received messages wait here.

A :class:`DelayLine` hands each item to ``deliver`` ``delay_s`` after it was put (in put order,
from one daemon thread), so a reader can go on reading the next message while earlier ones are
"in flight": the delay adds latency without holding the link, like propagation does.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable


class DelayLine:
    """Delivers ``(item, delivered_s)`` ``delay_s`` after :meth:`put`, in order."""

    def __init__(self, delay_s: float, deliver: Callable[[Any, float], None], name: str = "e3v-delay"):
        self.delay_s = max(0.0, float(delay_s))
        self.deliver = deliver
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def put(self, item: Any, received_s: float) -> None:
        """Queue ``item`` received at ``received_s`` (monotonic) for delivery at ``received_s + delay_s``."""
        if self.delay_s == 0:
            self.deliver(item, time.monotonic())
        else:
            self._q.put((received_s + self.delay_s, item))

    def _run(self) -> None:
        while True:
            due, item = self._q.get()
            if item is _STOP:
                return
            left = due - time.monotonic()
            if left > 0:
                time.sleep(left)
            self.deliver(item, time.monotonic())

    def close(self) -> None:
        """Stop after the items already queued have been delivered."""
        self._q.put((0.0, _STOP))


_STOP = object()
