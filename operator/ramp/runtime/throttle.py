"""How many reconciles run at once, and which waiting one goes next.

A burst (thousands of Rollouts created together, or all of them when an operator starts to
lead) would otherwise start thousands of reconciles that each hold their Rollout, its parsed
spec and status while they wait for an API thread: hundreds of megabytes at the peak, which
the allocator then keeps. The throttle lets a bounded number run; the others wait, and a reconcile
woken by a change (an edit, a `ramp` action, a watch event) goes before one woken by its own
timer, so a person's change does not queue behind due analyses.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

CHANGED = 0
"""Priority of a reconcile woken by a change."""
TIMED = 1
"""Priority of a reconcile woken by its own timer."""


@dataclass
class Throttle:
    size: int
    running: int = 0
    waiting: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)

    @asynccontextmanager
    async def admit(self, priority: int) -> AsyncIterator[None]:
        """Run the block once fewer than ``size`` are running and none of a higher priority
        (lower number), or of the same one that came earlier, waits."""
        if self.running < self.size and not self.waiting:
            self.running += 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self.waiting, (priority, next(self.order), turn))
            try:
                await turn  # release() counted this one as running when it set the result
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # admitted and cancelled at once: pass the turn on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self.running -= 1
        while self.waiting and self.running < self.size:
            _, _, turn = heapq.heappop(self.waiting)
            if not turn.done():  # skip the cancelled
                self.running += 1
                turn.set_result(None)
