"""Run the legacy and the new implementation side by side, serve the one the flag picks.

In the spirit of GitHub's Scientist: the *control* is the legacy implementation, the
*candidate* the new one. For each call, the flag decides which one is *served* (the candidate
when the flag is on for this targeting key, the control otherwise). On a sampled share of calls
(``sample_rate``) the other one runs too, in a worker thread, on the same arguments, and the two
results are compared. The caller always gets the served side's result, or its exception; the
other side's exception never reaches the caller, and neither does its time beyond ``timeout``
seconds: the caller stops waiting for it then (Python cannot stop a thread, so it finishes in
the background, holding one of ``max_concurrent`` slots; with every slot taken, calls are not
compared until one frees).

**Only for code without side effects.** On a sampled call the non-served side really runs:
whatever it writes, sends or charges happens twice. Compare pure computations, reads and
renderings; never payments, emails or writes.

Counted in Prometheus (``prometheus-client`` is needed for these helpers):

- ``ramp_dual_run_total{feature_flag_key, result}``: one per compared call, ``result`` one of
  ``match``, ``mismatch``, ``candidate_error``, ``control_error``. An exception of the served
  side counts as its side's error; otherwise an exception of the other side (or its running
  past ``timeout``) does; otherwise the comparator decides.
- ``ramp_dual_run_duration_seconds{feature_flag_key, side}``: histogram of each side's time on
  compared calls, ``side`` ``control`` or ``candidate`` (both run at once, so on CPU-bound
  Python code they share the interpreter and each looks slower than alone).
- ``ramp_dual_run_skipped_total{feature_flag_key}``: sampled calls not compared because every
  slot was busy.
- ``ramp_flag_fallbacks_total{feature_flag_key}`` (:class:`Fallback`): calls where the new
  path raised and the legacy one served instead.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ramp.flags.file import FlagFile
from ramp.flags.metrics import FLAG_KEY_LABEL
from ramp.flags.prometheus import PerRegistry, default_registry, require_prometheus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

T = TypeVar("T")

logger = logging.getLogger("ramp.flags")

_random = random.random  # bound once: sampling is on every call's path

CONTROL = "control"
"""The legacy implementation (Scientist's name)."""
CANDIDATE = "candidate"
"""The new implementation."""

MATCH = "match"
MISMATCH = "mismatch"
CANDIDATE_ERROR = "candidate_error"
CONTROL_ERROR = "control_error"
RESULTS = (MATCH, MISMATCH, CANDIDATE_ERROR, CONTROL_ERROR)
"""Values of the ``result`` label of ``ramp_dual_run_total``."""

DUAL_RUN_TOTAL = "ramp_dual_run_total"
DUAL_RUN_DURATION = "ramp_dual_run_duration_seconds"
DUAL_RUN_SKIPPED = "ramp_dual_run_skipped_total"
FALLBACKS_TOTAL = "ramp_flag_fallbacks_total"


def values_match(
    control: Any, candidate: Any, *, rel_tol: float = 1e-9, abs_tol: float = 0.0
) -> bool:
    """``==``, except that floats (also inside lists, tuples and dicts) match within
    ``math.isclose(rel_tol, abs_tol)`` and NaN matches NaN. The default comparator."""
    if isinstance(control, float) or isinstance(candidate, float):
        if not _is_number(control) or not _is_number(candidate):
            return False
        if math.isnan(control) or math.isnan(candidate):
            return math.isnan(control) and math.isnan(candidate)
        return math.isclose(control, candidate, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(control, (list, tuple)) and type(control) is type(candidate):
        return len(control) == len(candidate) and all(
            values_match(a, b, rel_tol=rel_tol, abs_tol=abs_tol) for a, b in zip(control, candidate)
        )
    if isinstance(control, Mapping) and isinstance(candidate, Mapping):
        return control.keys() == candidate.keys() and all(
            values_match(control[k], candidate[k], rel_tol=rel_tol, abs_tol=abs_tol)
            for k in control
        )
    return bool(control == candidate)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Comparison:
    """One compared call, as :class:`DualRun` hands it to ``publish`` (to log mismatches)."""

    flag_key: str
    targeting_key: str
    served: str
    """``candidate`` or ``control``: the side whose result (or exception) the caller got."""
    result: str
    """One of :data:`RESULTS`."""
    control: Any
    candidate: Any
    """Each side's value, or its exception (``TimeoutError`` when it ran past the bound); None
    for the non-served side when the served one raised (the caller did not wait for it)."""
    control_seconds: float | None
    candidate_seconds: float | None
    """Each side's time; None for a side still running when the caller stopped waiting."""


@dataclass(frozen=True)
class _Outcome:
    value: Any
    """What the side returned, or what it raised."""
    raised: bool
    seconds: float | None


class _DualRunMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        prometheus = require_prometheus("ramp.flags.DualRun")
        self.total = prometheus.Counter(
            DUAL_RUN_TOTAL,
            "Calls run on both the legacy (control) and the new (candidate) implementation, "
            "by result: match, mismatch, candidate_error, control_error.",
            [FLAG_KEY_LABEL, "result"],
            registry=registry,
        )
        self.duration = prometheus.Histogram(
            DUAL_RUN_DURATION,
            "Seconds each side (control, candidate) took on compared calls.",
            [FLAG_KEY_LABEL, "side"],
            registry=registry,
        )
        self.skipped = prometheus.Counter(
            DUAL_RUN_SKIPPED,
            "Sampled calls not compared because every comparison slot was busy.",
            [FLAG_KEY_LABEL],
            registry=registry,
        )


class _FallbackMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        prometheus = require_prometheus("ramp.flags.Fallback")
        self.fallbacks = prometheus.Counter(
            FALLBACKS_TOTAL,
            "Calls where the new implementation raised and the legacy one served instead.",
            [FLAG_KEY_LABEL],
            registry=registry,
        )


_dual_run_metrics = PerRegistry()
_fallback_metrics = PerRegistry()


class _Slots:
    """At most ``size`` non-served calls at once, on daemon threads.

    Daemon threads, unlike ``ThreadPoolExecutor``'s, do not hold up the interpreter's exit
    when a non-served side hangs. Rebuilt after a fork (a prefork server's worker inherits the
    object but not its threads).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pid = -1
        self._lock = threading.Lock()
        self._free = threading.Semaphore(size)
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def try_submit(self, job: Callable[[], Any]) -> Future[Any] | None:
        """Start ``job`` on a worker thread; None when every slot is busy."""
        if self._pid != os.getpid():
            self._start()
        if not self._free.acquire(blocking=False):
            return None
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        self._jobs.put((job, future))
        return future

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._free = threading.Semaphore(self.size)
            self._jobs = queue.SimpleQueue()
            for i in range(self.size):
                threading.Thread(
                    target=self._work,
                    args=(self._jobs, self._free),
                    name=f"ramp-dual-run-{i}",
                    daemon=True,
                ).start()
            self._pid = os.getpid()

    @staticmethod
    def _work(
        jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]],
        free: threading.Semaphore,
    ) -> None:
        while True:
            job, future = jobs.get()
            try:
                future.set_result(job())
            except BaseException as e:  # the worker must survive whatever the side raises
                future.set_exception(e)
            finally:
                free.release()


class DualRun:
    """Serve legacy or new as the flag says; on sampled calls run both and compare them.

    ``flags`` and ``flag_key``: the Rollout's flag. ``sample_rate`` (0..1): share of calls that
    run both sides (the others run only the served side, for about a microsecond of overhead).
    ``timeout``: seconds the non-served side may take, counted from its start (it starts with
    the served side); the caller never waits for it longer. ``compare(control, candidate)``:
    True when the results agree; by default :func:`values_match` with ``rel_tol`` and
    ``abs_tol`` for floats. ``publish(comparison)``: called with every :class:`Comparison` (to
    log mismatches); its exceptions are logged, never raised. ``max_concurrent``: non-served
    calls running at once (each a daemon thread). ``registry``: where the counters are
    (default ``prometheus_client.REGISTRY``).

    Call :meth:`run`, or decorate the new implementation with :func:`dual_run`. Only for code
    without side effects (see the module's doc).
    """

    def __init__(
        self,
        flags: FlagFile,
        flag_key: str,
        *,
        sample_rate: float = 1.0,
        timeout: float = 1.0,
        compare: Callable[[Any, Any], bool] | None = None,
        rel_tol: float = 1e-9,
        abs_tol: float = 0.0,
        publish: Callable[[Comparison], None] | None = None,
        max_concurrent: int = 4,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be between 0 and 1, got {sample_rate}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.flags = flags
        self.flag_key = flag_key
        self.sample_rate = sample_rate
        self.timeout = timeout
        self.compare = compare or functools.partial(values_match, rel_tol=rel_tol, abs_tol=abs_tol)
        self.publish = publish
        self._slots = _Slots(max_concurrent)
        metrics = _dual_run_metrics.get(registry or default_registry("DualRun"), _DualRunMetrics)
        # Every series exists from the start at 0, so `increase()` and ratios see the first one.
        self._results = {r: metrics.total.labels(flag_key, r) for r in RESULTS}
        self._durations = {s: metrics.duration.labels(flag_key, s) for s in (CONTROL, CANDIDATE)}
        self._skipped = metrics.skipped.labels(flag_key)

    def run(
        self,
        targeting_key: str,
        legacy: Callable[..., T],
        new: Callable[..., T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """``new(*args, **kwargs)`` if the flag is on for ``targeting_key``, else
        ``legacy(*args, **kwargs)``; on a sampled call the other one runs too and is compared."""
        on = self.flags.is_enabled(self.flag_key, targeting_key)
        sample_rate = self.sample_rate
        if sample_rate < 1.0 and (sample_rate <= 0.0 or _random() >= sample_rate):
            return new(*args, **kwargs) if on else legacy(*args, **kwargs)
        return self._run_both(targeting_key, on, legacy, new, args, kwargs)

    def _run_both(
        self,
        targeting_key: str,
        on: bool,
        legacy: Callable[..., T],
        new: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        served, other = (new, legacy) if on else (legacy, new)
        served_side, other_side = (CANDIDATE, CONTROL) if on else (CONTROL, CANDIDATE)
        other_duration = self._durations[other_side]

        def run_other() -> tuple[Any, float]:
            start = time.perf_counter()
            try:
                return other(*args, **kwargs), time.perf_counter() - start
            finally:
                other_duration.observe(time.perf_counter() - start)

        started = time.perf_counter()
        future = self._slots.try_submit(run_other)
        if future is None:
            self._skipped.inc()
            return served(*args, **kwargs)

        try:
            value = served(*args, **kwargs)
        except Exception as e:
            seconds = time.perf_counter() - started
            self._durations[served_side].observe(seconds)
            self._record(targeting_key, served_side, _Outcome(e, True, seconds), None)
            raise
        seconds = time.perf_counter() - started
        self._durations[served_side].observe(seconds)

        try:
            other_value, other_seconds = future.result(
                timeout=max(0.0, started + self.timeout - time.perf_counter())
            )
            other_outcome = _Outcome(other_value, False, other_seconds)
        except FutureTimeout:
            late = TimeoutError(f"the {other_side} was still running after {self.timeout}s")
            other_outcome = _Outcome(late, True, None)
        except Exception as e:
            other_outcome = _Outcome(e, True, None)
        self._record(targeting_key, served_side, _Outcome(value, False, seconds), other_outcome)
        return value

    def _record(
        self, targeting_key: str, served_side: str, served: _Outcome, other: _Outcome | None
    ) -> None:
        other_side = CONTROL if served_side == CANDIDATE else CANDIDATE
        if served.raised:
            result = CANDIDATE_ERROR if served_side == CANDIDATE else CONTROL_ERROR
        elif other is not None and other.raised:
            result = CANDIDATE_ERROR if other_side == CANDIDATE else CONTROL_ERROR
            logger.debug(
                "dual run of flag %r: the non-served %s raised",
                self.flag_key,
                other_side,
                exc_info=other.value,
            )
        else:
            assert other is not None
            control, candidate = (
                (other.value, served.value)
                if served_side == CANDIDATE
                else (served.value, other.value)
            )
            try:
                result = MATCH if self.compare(control, candidate) else MISMATCH
            except Exception:
                logger.warning(
                    "dual run of flag %r: the comparator raised; counted as a mismatch",
                    self.flag_key,
                    exc_info=True,
                )
                result = MISMATCH
        self._results[result].inc()
        if self.publish is None:
            return
        unseen = _Outcome(None, False, None)
        control_o, candidate_o = (
            (other or unseen, served) if served_side == CANDIDATE else (served, other or unseen)
        )
        comparison = Comparison(
            flag_key=self.flag_key,
            targeting_key=targeting_key,
            served=served_side,
            result=result,
            control=control_o.value,
            candidate=candidate_o.value,
            control_seconds=control_o.seconds,
            candidate_seconds=candidate_o.seconds,
        )
        try:
            self.publish(comparison)
        except Exception:
            logger.warning("dual run of flag %r: publish raised", self.flag_key, exc_info=True)


class Fallback:
    """Serve the new implementation when the flag is on, and the legacy one when the new one
    raises (one of ``exceptions``), counting ``ramp_flag_fallbacks_total{feature_flag_key}``.

    The legacy call happens after the new one failed, so the new one must have left nothing
    half done: the same rule as for :class:`DualRun`, code without side effects (or with
    effects that are undone when it raises). The first fallback per exception type is logged
    as a warning, the rest at debug level; the counter tells how often.
    """

    def __init__(
        self,
        flags: FlagFile,
        flag_key: str,
        *,
        exceptions: tuple[type[BaseException], ...] = (Exception,),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.flags = flags
        self.flag_key = flag_key
        self.exceptions = exceptions
        metrics = _fallback_metrics.get(registry or default_registry("Fallback"), _FallbackMetrics)
        self._fallbacks = metrics.fallbacks.labels(flag_key)
        self._warned: set[type[BaseException]] = set()

    def run(
        self,
        targeting_key: str,
        legacy: Callable[..., T],
        new: Callable[..., T],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """``new(...)`` if the flag is on for ``targeting_key`` and it does not raise, else
        ``legacy(...)``."""
        if not self.flags.is_enabled(self.flag_key, targeting_key):
            return legacy(*args, **kwargs)
        try:
            return new(*args, **kwargs)
        except self.exceptions as e:
            self._fallbacks.inc()
            first = type(e) not in self._warned
            self._warned.add(type(e))
            logger.log(
                logging.WARNING if first else logging.DEBUG,
                "flag %r: the new implementation raised %s; serving the legacy one",
                self.flag_key,
                type(e).__name__,
                exc_info=True,
            )
        return legacy(*args, **kwargs)


def _decorate(
    helper: DualRun | Fallback,
    legacy: Callable[..., T],
    new: Callable[..., T],
    targeting_key: Callable[..., str],
) -> Callable[..., T]:
    """The new implementation, wrapped: each call runs ``helper.run`` with the targeting key
    taken from the arguments. A plain function (a closure is the cheapest call in Python, and
    binds as a method when it decorates one); ``wrapper.helper`` is the helper."""
    if isinstance(helper, DualRun):
        flags, flag_key, run_both = helper.flags, helper.flag_key, helper._run_both

        @functools.wraps(new)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            # DualRun.run inlined: an uncompared call is most calls, and its cost is the helper's.
            key = targeting_key(*args, **kwargs)
            on = flags.is_enabled(flag_key, key)
            rate = helper.sample_rate
            if rate < 1.0 and (rate <= 0.0 or _random() >= rate):
                return new(*args, **kwargs) if on else legacy(*args, **kwargs)
            return run_both(key, on, legacy, new, args, kwargs)

    else:
        run = helper.run

        @functools.wraps(new)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return run(targeting_key(*args, **kwargs), legacy, new, *args, **kwargs)

    wrapper.helper = helper  # type: ignore[attr-defined]
    return wrapper


def dual_run(
    flags: FlagFile,
    flag_key: str,
    *,
    legacy: Callable[..., T],
    targeting_key: Callable[..., str],
    **options: Any,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate the new implementation: each call serves it or ``legacy`` as the flag says,
    and compares both on sampled calls (:class:`DualRun`, with ``options``).

    ``targeting_key`` gets the call's arguments and returns the key the flag decides on::

        @dual_run(flags, "orders-v2-path", legacy=price_v1,
                  targeting_key=lambda order: order.customer_id, sample_rate=0.05)
        def price(order): ...

    ``price.helper`` is the :class:`DualRun`.
    """
    helper = DualRun(flags, flag_key, **options)
    return lambda new: _decorate(helper, legacy, new, targeting_key)


def with_fallback(
    flags: FlagFile,
    flag_key: str,
    *,
    legacy: Callable[..., T],
    targeting_key: Callable[..., str],
    **options: Any,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate the new implementation: served when the flag is on, and ``legacy`` serves
    instead when it raises (:class:`Fallback`, with ``options``). ``wrapper.helper`` is the
    :class:`Fallback`."""
    helper = Fallback(flags, flag_key, **options)
    return lambda new: _decorate(helper, legacy, new, targeting_key)


__all__ = [
    "CANDIDATE",
    "CANDIDATE_ERROR",
    "CONTROL",
    "CONTROL_ERROR",
    "DUAL_RUN_DURATION",
    "DUAL_RUN_SKIPPED",
    "DUAL_RUN_TOTAL",
    "FALLBACKS_TOTAL",
    "MATCH",
    "MISMATCH",
    "RESULTS",
    "Comparison",
    "DualRun",
    "Fallback",
    "dual_run",
    "values_match",
    "with_fallback",
]
