"""Which bucketing scheme a rollout publishes with (I11).

At P % the scheme decides *which* P % of users get the feature, so a rollout in flight keeps the
scheme it first exposed users with: another one would take the feature from some users and give
it to others at the same percentage. The scheme is remembered in `status.bucketing` from the
first publish above 0 % until nobody or everybody has the feature for good: the rollout is rolled
back to 0 %, or completes at 100 % (one completing below 100 % keeps it). A new start takes
`spec.flag.bucketing` afresh.

A rollout in flight with nothing remembered was left by an operator from before schemes existed
(this one remembers the scheme before it publishes above 0 %): its users were chosen by what its
ConfigMap serves, so that scheme is kept, never the default of the operator now running. Such a
flags.json names no scheme, which means `ramp.flags.LEGACY_SCHEME`, and so does a ConfigMap that
cannot be read back, since those operators wrote no other.
"""

from __future__ import annotations

from typing import cast

from ramp.api.spec import BucketingScheme, RolloutSpec
from ramp.api.status import RolloutStatus
from ramp.engine.draft import Draft
from ramp.engine.effects import PublishFlag
from ramp.engine.phases import HELD
from ramp.flags import DEFAULT_SCHEME
from ramp.flags.bucketing import LEGACY_SCHEME


def in_flight(status: RolloutStatus) -> bool:
    """Some users have the feature and others not, or will again without a new start: from the
    first publish of a phase until a rollback to 0 % or completion at 100 % (paused, disabled
    and rolled back to a previous phase are in flight)."""
    phase = status.phase or "Pending"
    percentage = status.percentage or 0
    if phase == "Completed":
        return 0 < percentage < 100
    if phase == "Pending":
        return False
    started = phase in HELD and status.phase_started_at is not None
    return started or percentage > 0


def keep_scheme(draft: Draft, served: PublishFlag | None) -> None:
    """Remember in the next status the scheme the rollout publishes with while in flight, and
    forget it once the rollout is not (I11)."""
    nxt = draft.next
    if not in_flight(nxt):
        nxt.bucketing = None
    elif nxt.bucketing is None:
        if in_flight(draft.before):
            # Left in flight by an operator that did not remember: keep what apps read now.
            scheme = served.bucketing if served is not None else LEGACY_SCHEME
        else:
            scheme = draft.spec.flag.bucketing or DEFAULT_SCHEME
        # Every name here comes from ramp.flags.SCHEMES, which a test holds equal to the model's.
        nxt.bucketing = cast(BucketingScheme, scheme)


def scheme_in_force(spec: RolloutSpec, status: RolloutStatus) -> str:
    """The scheme flags.json is written with: the one remembered while in flight, else the
    spec's."""
    return status.bucketing or spec.flag.bucketing or DEFAULT_SCHEME


def publish_of(spec: RolloutSpec, status: RolloutStatus) -> PublishFlag:
    """What the ConfigMap must serve for ``status``."""
    enabled = bool(status.enabled)
    # An audience an edit no longer defines cannot be published: fewer users, never others.
    defined = {a.name for a in spec.flag.audiences or []}
    audiences = tuple(a for a in status.audiences or () if a in defined) if enabled else ()
    return PublishFlag(enabled, status.percentage or 0.0, scheme_in_force(spec, status), audiences)


def scheme_message(spec: RolloutSpec, status: RolloutStatus) -> str:
    """The scheme in force, in words, and when a different spec.flag.bucketing would apply."""
    scheme = scheme_in_force(spec, status)
    asked = spec.flag.bucketing or DEFAULT_SCHEME
    if asked == scheme:
        return f"bucketing {scheme}"
    return (
        f"bucketing {scheme}, kept while the rollout is in flight; spec.flag.bucketing "
        f"{asked} applies once it is rolled back to 0 % or completes at 100 %"
    )
