"""Replicas whose wall clocks disagree by 30 s, either way, never lead at once: a standby takes
the Lease over only once the holder's record has not changed for a lease duration on the
standby's own monotonic clock, never by comparing the holder's renewTime with its wall clock.
Two LeaderElection candidates campaign for one Lease on the real apiserver; one of them stamps
and reads time 30 s off. Both are sampled every 10 ms for several lease durations: while the
on-time one leads with the skewed one standing by, across the takeover after the leader is
killed, and while the skewed one leads with an on-time one standing by."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from ramp.k8s.clients import load_clients
from ramp.k8s.lease import LeaseLock
from ramp.runtime.leadership import LeaderElection
from ramp.runtime.settings import LeaderElectionSettings
from tests.support.cluster import Cluster
from tests.support.eventually import eventually_async

pytestmark = pytest.mark.cluster

LEASE = "skewed"
DURATION = 3.0
"""Seconds of the Lease (renew deadline 2 s, a try every 0.4 s: controller-runtime's ratios)."""


async def nothing() -> None:
    pass


def leads(election: LeaderElection) -> bool:
    """It believes it holds the Lease and its writes would pass."""
    return election.leading and election.fence.remaining() > 0


async def never_two_lead(candidates: list[LeaderElection], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        leading = [c.lock.identity for c in candidates if leads(c)]
        assert len(leading) <= 1, f"{leading} led at once"
        await asyncio.sleep(0.01)


async def takes_over(candidates: list[LeaderElection], new: LeaderElection) -> None:
    """Sample as never_two_lead does, until ``new`` leads (within the lease and a few tries)."""
    deadline = time.monotonic() + DURATION + 3 * DURATION * 2 / 15 + 2
    while not leads(new):
        assert time.monotonic() < deadline, f"{new.lock.identity} did not take over in time"
        await never_two_lead(candidates, 0.01)


class Campaigns:
    """Candidates campaigning for the Lease on the real apiserver, each with its own client."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, identity: str, skew: float) -> LeaderElection:
        """A candidate whose wall clock is ``skew`` seconds off, campaigning from now on."""
        lock = LeaseLock(
            load_clients(self.cluster.kubeconfig),
            self.namespace,
            LEASE,
            identity,
            clock=lambda: datetime.now(UTC) + timedelta(seconds=skew),
        )
        timing = LeaderElectionSettings.scaled(self.namespace, LEASE, DURATION)
        election = LeaderElection(lock, timing, started=nothing, stopped=nothing)
        self.tasks[identity] = asyncio.create_task(election.run(), name=identity)
        return election

    def kill(self, election: LeaderElection) -> None:
        """Stop campaigning without a word: no release, the Lease stays as last renewed."""
        self.tasks[election.lock.identity].cancel()

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def until_leads(election: LeaderElection) -> None:
    await eventually_async(
        lambda: asyncio.sleep(0, leads(election)), timeout=10, what="the first candidate to lead"
    )


@pytest.mark.parametrize("skew", [30.0, -30.0], ids=["ahead", "behind"])
async def test_candidates_whose_clocks_disagree_by_30s_never_lead_at_once(
    cluster: Cluster, namespace: str, skew: float
) -> None:
    campaigns = Campaigns(cluster, namespace)
    try:
        on_time = campaigns.start("on-time", 0.0)
        await until_leads(on_time)
        skewed = campaigns.start("skewed", skew)
        await never_two_lead([on_time, skewed], 3 * DURATION)
        assert leads(on_time), "the leader lost a Lease it kept renewing"

        campaigns.kill(on_time)
        await takes_over([on_time, skewed], skewed)

        late = campaigns.start("late", 0.0)
        await never_two_lead([on_time, skewed, late], 3 * DURATION)
        assert leads(skewed), "the skewed leader lost a Lease it kept renewing"
    finally:
        await campaigns.stop()
