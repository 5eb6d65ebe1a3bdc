"""metav1.Conditions of a Rollout, derived from the next status: kstatus summaries that
`kubectl wait`, Flux and Argo CD read, next to Ramp's own conditions."""

from __future__ import annotations

from ramp.api.status import Condition, RolloutPhase
from ramp.engine.draft import Draft
from ramp.engine.phases import ACTIVE, HALTED, MOVING, STALLED

CONFIG_MAP_CONFLICT = "ConfigMapConflict"
"""Published reason of a Rollout refused another Rollout's ConfigMap: stalled until renamed."""

WAITING_TO_START = "waiting at 0 % to start"
"""How the message of a Pending rollout held before its first phase begins (progress.start_waits):
the Progressing condition's reason is then WaitingToStart."""


AUDIENCES_NOT_IN_ENV = "AudiencesNotInEnv"
"""Reason of the EnvKeysComplete condition of a Rollout with audiences and env keys."""


def env_without_audiences(draft: Draft) -> str | None:
    """What apps reading the env keys miss, for a Rollout whose phases serve audiences; None
    when it has no env keys or no audiences (the condition is then absent)."""
    flag = draft.spec.flag
    env = flag.env
    keys = [k for k in (env.enabled, env.percentage) if k] if env is not None else []
    if not keys or not flag.audiences:
        return None
    names = ", ".join(a.name for a in flag.audiences)
    return (
        f"spec.flag.env: env keys ({', '.join(keys)}) cannot express audiences ({names}): apps "
        "that read them serve the percentage only, so audience members get the feature only "
        "in apps reading flags.json (a flagd provider or ramp.flags) with the evaluation "
        "context the audiences match; see docs/flags.md"
    )


def condition(draft: Draft, type_: str, status: bool, reason: str, message: str) -> Condition:
    """A condition whose lastTransitionTime moves only when its status does."""
    before = next((c for c in draft.before.conditions or [] if c.type == type_), None)
    value = "True" if status else "False"
    changed = before is None or before.status != value
    return Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=draft.now
        if changed or before is None
        else before.last_transition_time,
        observed_generation=draft.next.observed_generation,
    )


def was_false(draft: Draft, type_: str, reason: str | None = None) -> bool:
    before = next((c for c in draft.before.conditions or [] if c.type == type_), None)
    return before is not None and before.status == "False" and reason in (None, before.reason)


def summary(
    phase: RolloutPhase, message: str, paused: bool, published_reason: str
) -> dict[str, tuple[bool, str, str]]:
    """K1: the kstatus summary. Exactly one of Ready, Reconciling and Stalled is True: Ready
    when Completed, Stalled when the rollout cannot move by itself, Reconciling while it moves;
    the others say why not, with the phase as reason."""
    if published_reason == CONFIG_MAP_CONFLICT:
        return {
            "Ready": (False, CONFIG_MAP_CONFLICT, message),
            "Reconciling": (False, CONFIG_MAP_CONFLICT, message),
            "Stalled": (True, CONFIG_MAP_CONFLICT, message),
        }
    reason = "Paused" if paused and phase == "Pending" else phase
    return {
        "Ready": (phase == "Completed", reason, message),
        "Reconciling": (phase in MOVING and not paused, reason, message),
        "Stalled": (phase in STALLED, reason, message),
    }


def build_conditions(
    draft: Draft,
    *,
    missing: list[str],
    contested: tuple[str, ...],
    published: tuple[bool, str, str],
) -> list[Condition]:
    nxt = draft.next
    phase = nxt.phase or "Pending"
    message = nxt.message or ""
    health = nxt.health
    paused = phase in HALTED or (
        phase == "Pending" and nxt.message is not None and nxt.message.startswith("paused")
    )
    kstatus = summary(phase, message, paused, published[1])
    block = draft.block if draft.waiting_for_window else None
    if block is not None:
        # Held for a window or a freeze: still moving by itself (Reconciling, never Stalled),
        # and the reason says what it waits for.
        kstatus = {t: (value[0], block.reason, value[2]) for t, value in kstatus.items()}
    conditions = [
        *(condition(draft, type_, *value) for type_, value in kstatus.items()),
        condition(
            draft,
            "Progressing",
            phase in ACTIVE,
            block.reason
            if block is not None
            else "WaitingToStart"
            if phase == "Pending" and message.startswith(WAITING_TO_START)
            else phase,
            message,
        ),
        condition(
            draft,
            "Healthy",
            health in (None, "Healthy", "Unknown"),
            health or "NoAnalysis",
            "; ".join(f"{m.name}: {m.message}" for m in nxt.metrics or [] if m.verdict != "Pass")
            or ("all metrics within thresholds" if health else "no analysis configured"),
        ),
        condition(draft, "Paused", paused, phase, message),
        condition(draft, "Completed", phase == "Completed", phase, message),
        condition(draft, "Published", *published),
        *release_conditions(draft),
    ]
    env_note = env_without_audiences(draft)
    if env_note is not None:
        conditions.append(
            condition(draft, "EnvKeysComplete", False, AUDIENCES_NOT_IN_ENV, env_note)
        )
    if draft.spec.workers:
        if missing:
            workers = (False, "WorkerNotFound", f"{', '.join(missing)} not found")
        elif contested:
            workers = (
                False,
                "WorkerContested",
                f"{', '.join(contested)} kept being changed back from the scale Ramp set "
                "(another controller or an HPA?); Ramp stopped setting it until the phase "
                "changes",
            )
        else:
            workers = (True, "Found", "all workers found")
        conditions.append(condition(draft, "WorkersReady", *workers))
        if any(w.drain is not None for w in draft.spec.workers):
            draining = (
                (True, "Draining", f"draining {nxt.draining}")
                if nxt.drains
                else (False, "NothingToDrain", "no worker is draining")
            )
            conditions.append(condition(draft, "Draining", *draining))
    return conditions


def release_conditions(draft: Draft) -> list[Condition]:
    """PromotionAllowed (where windows or a freeze apply) and PolicyResolved (where the Rollout
    names a RolloutPolicy)."""
    spec, conditions = draft.spec, []
    if (spec.promotion_windows or spec.freeze is not None) and draft.next.phase in ACTIVE:
        block = draft.block
        allowed = (
            (False, block.reason, block.message)
            if block is not None
            else (True, "Allowed", "no freeze, and a promotion window is open")
        )
        conditions.append(condition(draft, "PromotionAllowed", *allowed))
    policy = spec.policy
    if policy is not None:
        seen = draft.next.policy
        problem = draft.policy_problem
        resolved = (
            (False, problem[0], problem[1])
            if problem is not None
            else (True, "Resolved", f"RolloutPolicy {policy} generation {seen.generation}")
            if seen is not None
            else (False, "PolicyNotResolved", f"RolloutPolicy {policy} was not resolved")
        )
        conditions.append(condition(draft, "PolicyResolved", *resolved))
    return conditions
