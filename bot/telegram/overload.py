"""Load shedding: above what the machine can answer, tell people at once instead of
letting the queue and the wait grow without bound.

The fault run of issue 16 found no limit: at 33 questions/s (capacity about 20/s on 2
cores) the median wait reached 22 s after one minute, and nobody was told why. The
`LoadMeter` counts questions in flight and the rate at which questions were answered in
the last WINDOW seconds; their ratio is the wait a new question can expect. Above
OVERLOAD_NOTICE_SECONDS the user gets "many questions right now, I will answer in about
N seconds" at once and the answer follows; above OVERLOAD_SHED_SECONDS the question is
not queued and the user is asked to send it again in a minute.
"""

from __future__ import annotations

import collections
import time

WINDOW = 10.0  # seconds of answered questions that make the rate
# The rate assumed at least: answered-per-second is only the machine's capacity when it
# is saturated (at low load it is the arrival rate), so a burst after a quiet spell must
# not look like a long queue. The slowest bench run in issue 14 answered 22.6/s on 2
# cores; a quarter of that is safely below capacity.
FLOOR_RATE = 5.0


class LoadMeter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self.in_flight = 0
        self._answered: collections.deque[float] = collections.deque()

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self._answered.append(self._clock())

    def rate(self) -> float:
        """Questions answered per second over the last WINDOW seconds."""
        now = self._clock()
        while self._answered and now - self._answered[0] > WINDOW:
            self._answered.popleft()
        return len(self._answered) / WINDOW

    def expected_wait(self) -> float:
        """Seconds a question arriving now can expect to wait (Little's law: what is in
        flight over the rate it drains at)."""
        return self.in_flight / max(self.rate(), FLOOR_RATE)
