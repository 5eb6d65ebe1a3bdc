"""Leader election on a Lease, timed as controller-runtime does it.

One replica leads and runs the reconcile loops; the others stand by, reading the Lease every
`retry_period` and taking it once it is free (released) or expired. Expired is judged as
client-go's leaderelection does, on the standby's own monotonic clock: the record has not
changed for `leaseDurationSeconds` since this standby saw it change. The holder's `renewTime` is
never compared with the standby's wall clock, so replicas whose clocks disagree (by any amount)
never lead at once; only the rate of their clocks matters.

The leader renews every `retry_period`; when it has not managed to renew for `renew_deadline`
(measured from when its last confirmed renewal began, so before the apiserver stamped it) it
stops leading (stops its loops, writes nothing more) and goes back to campaigning.
`renew_deadline` < `lease_duration`, so it has stopped before any standby, which saw that
renewal only after it began, can consider the lease expired.

Its writes are fenced (`ramp.k8s.clients.WriteFence`): each is sent only while the renew deadline
has not passed by the leader's monotonic clock and the lease was not lost or released, however
late the loops hear of it. Threads still working for a cancelled loop are refused at the write.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ramp import telemetry
from ramp.k8s.clients import WriteFence
from ramp.k8s.lease import Attempt, LeaseLock, LeaseRecord
from ramp.runtime.settings import LeaderElectionSettings

logger = logging.getLogger("ramp.leadership")

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def candidate_identity() -> str:
    """Hostname (the pod name in a pod) plus a random suffix: a restarted process, or a
    second one on the same laptop, never mistakes itself for the holder."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def pod_namespace() -> str | None:
    """The namespace this process runs in when it runs in a pod: POD_NAMESPACE (the chart sets
    it from the downward API), else the service account's namespace file."""
    if namespace := os.environ.get("POD_NAMESPACE", "").strip():
        return namespace
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def default_lease_namespace(watched: tuple[str, ...]) -> str | None:
    """Where the Lease lives unless --lease-namespace says: the pod's namespace, else (outside a
    pod, e.g. `ramp run` on a laptop) the first watched namespace; None for a cluster-wide run
    outside a pod, which has to name one."""
    return pod_namespace() or (watched[0] if watched else None)


Hook = Callable[[], Awaitable[None]]
T = TypeVar("T")


class LeaseObserver:
    """When this candidate last saw the Lease's record change, by its own monotonic clock.

    Another holder's hold stands until its record has stayed the same for its
    `leaseDurationSeconds` since this candidate saw it change (client-go's observedRecord and
    observedTime). A candidate that has just started waits a whole lease duration for a holder it
    never saw renew: it cannot tell an old renewTime from a clock that runs behind.
    """

    def __init__(self, identity: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.identity = identity
        self.clock = clock
        self._record: LeaseRecord | None = None
        self._since = 0.0
        self._lock = threading.Lock()  # tries run in threads, one abandoned may still finish

    def held_by_other(self, record: LeaseRecord) -> bool:
        now = self.clock()
        with self._lock:
            if record != self._record:
                self._record, self._since = record, now
            since = self._since
        if not record.holder or record.holder == self.identity:
            return False
        return now < since + record.duration.total_seconds()


class LeaderElection:
    """Campaign for the Lease forever; call `started` on winning it and `stopped` on losing it.

    ``fence`` is opened while this candidate surely leads and closed as soon as it may not
    (give the same fence to the clients the loops write with); ``clock`` is the monotonic clock
    all its timing runs on."""

    def __init__(
        self,
        lock: LeaseLock,
        timing: LeaderElectionSettings,
        started: Hook,
        stopped: Hook,
        fence: WriteFence | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.timing = timing
        self.started = started
        self.stopped = stopped
        self.clock = clock
        self.fence = fence if fence is not None else WriteFence(clock)
        self.observer = LeaseObserver(lock.identity, clock)
        self.leading = False
        # Its own threads: a renewal must never queue behind reconciles' blocking API calls.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ramp-lease")
        telemetry.leader.set(0)

    async def run(self) -> None:
        logger.info("%s: campaigning as %s", self.lock.describe(), self.lock.identity)
        try:
            while True:
                renewed = await self._acquire()
                self.fence.open_until(renewed + self.timing.renew_deadline)
                self.leading = True
                telemetry.leader.set(1)
                logger.info("%s: acquired; this operator leads", self.lock.describe())
                await self.started()
                await self._keep(renewed)
                # Stop before anything else: past renew_deadline another replica may soon lead.
                self.fence.close()
                await self.stopped()
                self.leading = False
                telemetry.leader.set(0)
                logger.error(
                    "%s: lost (not renewed within %.0fs); stopped reconciling and standing by",
                    self.lock.describe(),
                    self.timing.renew_deadline,
                )
        finally:
            telemetry.leader.set(0)

    async def release(self) -> None:
        """Give the lease up (after the loops stopped), so a standby takes over at once."""
        self.fence.close()  # nothing a stopped loop left in a thread may land after this
        if not self.leading:
            return
        self.leading = False
        telemetry.leader.set(0)
        try:
            released = await self._call(self.lock.release, self.timing.retry_period)
        except Exception as e:  # the lease then expires by itself after lease_duration
            logger.warning("%s: could not release: %s", self.lock.describe(), e)
            return
        if released:
            logger.info("%s: released", self.lock.describe())

    async def _acquire(self) -> float:
        """Try every retry_period until the lease is ours; return when the winning try began."""
        holder = None
        while True:
            try:
                sent = self.clock()
                if await self._try(self.timing.renew_deadline) is Attempt.TAKEN:
                    return sent
                seen = await self._call(self.lock.read, self.timing.retry_period)
                current = seen[0].holder if seen else None
                if current != holder:
                    holder = current
                    logger.info("%s: held by %s; standing by", self.lock.describe(), holder)
            except Exception as e:
                logger.warning("%s: cannot read or take it: %s", self.lock.describe(), e)
            await asyncio.sleep(self.timing.retry_period)

    async def _keep(self, renewed: float) -> None:
        """Renew every retry_period; return once renew_deadline passed since the last renewal
        that the apiserver confirmed (measured from when that try began: its renewTime is later,
        so others see the lease expire after this returns, by lease_duration - renew_deadline)."""
        while True:
            await asyncio.sleep(self.timing.retry_period)
            while True:
                sent = self.clock()
                remaining = renewed + self.timing.renew_deadline - sent
                if remaining <= 0:
                    return
                try:
                    attempt = await self._try(remaining)
                    if attempt is Attempt.TAKEN:
                        renewed = sent
                        self.fence.open_until(renewed + self.timing.renew_deadline)
                        break
                    if attempt is Attempt.HELD:
                        logger.warning("%s: another candidate holds it", self.lock.describe())
                        return
                    logger.info("%s: changed while renewing; trying again", self.lock.describe())
                except Exception as e:
                    logger.warning("%s: renewal failed: %s", self.lock.describe(), e)
                left = renewed + self.timing.renew_deadline - self.clock()
                await asyncio.sleep(max(0.0, min(self.timing.retry_period, left)))

    async def _try(self, timeout: float) -> Attempt:
        duration = timedelta(seconds=self.timing.lease_duration)
        call = self._call(
            self.lock.try_acquire_or_renew, duration, timeout, self.observer.held_by_other
        )
        # The request timeout bounds each HTTP call; the timeout bounds the whole try (a read and
        # a write), so a hanging apiserver cannot keep a leader past its renew deadline. Not
        # asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as the
        # call completes, and a campaign cancelled at shutdown then campaigns on forever.
        async with asyncio.timeout(timeout):
            return await call

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
