"""Hypothesis strategies for Rollout manifests: valid ones, and mutations of valid ones that
admission must refuse while naming the field it refuses.

A `Case` is a valid spec plus at most one `Mutation`. The mutation knows the path it changed and
the text a rejection must contain (the field path as the apiserver writes it, e.g.
`spec.phases[2].percentage`), so a test can check that every refusal points at the field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.support.rollouts import GROUP, VERSION

Path = tuple[str | int, ...]
Spec = dict[str, Any]


class _Delete:
    """Marks a mutation that removes the field instead of replacing it."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def field_path(path: Path) -> str:
    """("phases", 2, "percentage") -> "spec.phases[2].percentage", as the apiserver writes it."""
    text = "spec"
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}"
    return text


@dataclass(frozen=True)
class Mutation:
    what: str
    """What is wrong, in words (shows in a failing example)."""
    path: Path
    """Where in spec the value was replaced (or removed, when `value` is DELETE)."""
    value: Any
    names: str
    """Text the apiserver's rejection must contain: the path of the field it blames."""
    must_reject: bool = True
    """False for oddities admission may accept (then the operator must cope with them)."""
    also: tuple[tuple[Path, Any], ...] = ()
    """Edits made first, for faults that take two fields (e.g. phase workers, no workers)."""


@dataclass(frozen=True)
class Case:
    spec: Spec
    """The spec before the mutation: always valid."""
    mutation: Mutation | None
    name_length: int | None = None
    """Pad the Rollout's name to this length (a DNS subdomain may have 253 characters)."""

    MAX_NAME = 63
    """A Rollout's name is a label value on its ConfigMap: at most 63 characters."""

    @property
    def refusal(self) -> str | None:
        """The field a refusal must name, when admission must refuse this case."""
        if self.mutation is not None and self.mutation.must_reject:
            return self.mutation.names
        if self.name_length is not None and self.name_length > self.MAX_NAME:
            return "metadata.name"
        return None

    def name(self, unique: str) -> str:
        if self.name_length is None:
            return unique
        return (unique + "-" + "n" * self.name_length)[: self.name_length]

    def manifest(self, unique: str) -> dict[str, Any]:
        """The Rollout to send, named from `unique`. Each Rollout gets its own ConfigMap
        (`<unique>-flag`) unless the mutation is about that name: two Rollouts sharing one is an
        operator matter (issue 9, hole 7), not admission's."""
        spec = copy.deepcopy(self.spec)
        spec["flag"]["configMap"] = f"{unique}-flag"
        if self.mutation is not None:
            apply_mutation(spec, self.mutation)
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Rollout",
            "metadata": {"name": self.name(unique)},
            "spec": spec,
        }

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return (
            f"Case(mutation={self.mutation!r}, name_length={self.name_length},\n"
            f"     spec={self.spec!r})"
        )


def apply_mutation(spec: Spec, mutation: Mutation) -> None:
    for path, value in (*mutation.also, (mutation.path, mutation.value)):
        node: Any = spec
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value


# ---------------------------------------------------------------------------------------------
# Valid specs

PHASE_NAMES = ["canary", "early", "half", "most", "all", "p-1", "p2", "x"]
METRIC_NAMES = ["errors", "p99", "queue-depth", "dlq", "success-rate", "m"]
QUERIES = [
    "vector(0)",
    "vector(1) * 0.5",
    "sum(up)",
    "max(absent_metric_for_ramp_fuzz)",  # no data
    "sum(rate(",  # a PromQL syntax error: Prometheus answers 400
    "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
    'sum(ünïcode_métric{é="✓"})',
    "   ",
]
SHORT_DURATIONS = ["0s", "500ms", "1s", "2s", "1m", "1h", "1h30m", "1.5s"]
AUDIENCES = [
    {"name": "team", "attribute": "email", "endsWith": ["@example.com", "@ëxample.org"]},
    {"name": "beta", "in": ["user-1017", "user-2203", "ünï-🚀"]},
]
AUDIENCE_STEPS = ((), ("team",), ("team", "beta"))


def dns_label(max_size: int = 20) -> st.SearchStrategy[str]:
    return st.from_regex(rf"[a-z0-9]([-a-z0-9]{{0,{max_size - 2}}}[a-z0-9])?", fullmatch=True)


def two_decimals(low: int = 0, high: int = 10000) -> st.SearchStrategy[float]:
    return st.integers(low, high).map(lambda hundredths: hundredths / 100)


@st.composite
def thresholds(draw: st.DrawFn, ratio: bool) -> dict[str, Any]:
    bounds = ["above", "below", *(["aboveBaselineRatio", "belowBaselineRatio"] if ratio else [])]
    chosen = draw(st.lists(st.sampled_from(bounds), min_size=1, max_size=2, unique=True))
    out: dict[str, Any] = {}
    for bound in chosen:
        if bound.endswith("Ratio"):
            out[bound] = draw(st.floats(0.01, 100, allow_nan=False))
        else:
            out[bound] = draw(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
    if draw(st.booleans()):
        out["for"] = draw(st.sampled_from(SHORT_DURATIONS))
    return out


@st.composite
def metrics(draw: st.DrawFn, name: str) -> dict[str, Any]:
    ratio = draw(st.booleans())
    metric: dict[str, Any] = {"name": name, "query": draw(st.sampled_from(QUERIES))}
    kinds = draw(st.sampled_from([["critical"], ["warning"], ["warning", "critical"]]))
    for kind in kinds:
        metric[kind] = draw(thresholds(ratio))
    if ratio:
        metric["baseline"] = {"capture": "AtStart"}
    if draw(st.booleans()):
        metric["onNoData"] = draw(st.sampled_from(["Pause", "Fail", "Ignore"]))
    return metric


@st.composite
def valid_specs(
    draw: st.DrawFn, prometheus: str, analysis: bool = False, min_phases: int = 1
) -> Spec:
    """A spec admission must accept and the operator must run: `prometheus` is the address
    analysis points at (the testbed's, so queries really run); `analysis` forces at least one
    metric."""
    flag: dict[str, Any] = {
        "key": draw(
            st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,30}[A-Za-z0-9])?", fullmatch=True)
        ),
        "configMap": "placeholder",  # replaced per Rollout, see Case.manifest
    }
    if draw(st.booleans()):
        flag["env"] = {"enabled": "FEATURE_ENABLED", "percentage": "FEATURE_PERCENTAGE"}
    if draw(st.booleans()):
        flag["restartOnChange"] = [
            {"kind": draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet"])), "name": n}
            for n in draw(st.lists(dns_label(), min_size=1, max_size=2, unique=True))
        ]
    spec: Spec = {"flag": flag}

    workers = draw(st.lists(dns_label(), max_size=2, unique=True))
    if workers:
        spec["workers"] = [
            draw(st.sampled_from([{"deployment": w}, {"hpa": w}, {"deployment": w, "hpa": w}]))
            for w in workers
        ]

    names = draw(
        st.lists(st.sampled_from(PHASE_NAMES), min_size=min_phases, max_size=4, unique=True)
    )
    percentages = sorted(draw(st.lists(two_decimals(), min_size=len(names), max_size=len(names))))
    metric_names = draw(
        st.lists(st.sampled_from(METRIC_NAMES), min_size=int(analysis), max_size=3, unique=True)
    )
    phases = []
    for name, percentage in zip(names, percentages, strict=True):
        phase: dict[str, Any] = {"name": name, "percentage": percentage}
        if draw(st.booleans()):
            phase["duration"] = draw(st.sampled_from(SHORT_DURATIONS))
        if draw(st.booleans()):
            phase["approval"] = draw(st.sampled_from(["Automatic", "Manual"]))
        if draw(st.booleans()) and workers:
            low = draw(st.integers(1, 5))
            phase["workers"] = draw(
                st.sampled_from(
                    [{"replicas": low - 1}, {"minReplicas": low, "maxReplicas": low + 2}]
                )
            )
        if draw(st.booleans()) and metric_names:
            phase["metrics"] = [
                {"name": draw(st.sampled_from(metric_names)), "critical": {"above": 1}}
            ]
        phases.append(phase)
    spec["phases"] = phases
    if draw(st.booleans()):
        # Audiences ahead of the percentages: each phase below 100 % keeps the ones before it.
        flag["audiences"] = copy.deepcopy(AUDIENCES)
        steps = sorted(
            draw(st.lists(st.integers(0, 2), min_size=len(phases), max_size=len(phases)))
        )
        for phase, step in zip(phases, steps, strict=True):
            if step and phase["percentage"] < 100:
                phase["audiences"] = list(AUDIENCE_STEPS[step])

    if metric_names:
        spec["analysis"] = {
            "interval": draw(st.sampled_from(["2s", "5s", "10s", "30s"])),
            "prometheus": {"address": prometheus, "timeout": "2s"},
            "metrics": [draw(metrics(n)) for n in metric_names],
        }
        if draw(st.booleans()):
            spec["analysis"]["errorLimit"] = draw(st.integers(1, 100))
        if workers and draw(st.booleans()):
            spec["workers"][0]["drain"] = {
                "query": draw(st.sampled_from(QUERIES)),
                "timeout": draw(st.sampled_from(SHORT_DURATIONS)),
            }
        if draw(st.booleans()):
            spec["analysis"]["served"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "within": st.sampled_from(["1s", "30s", "5m", "24h"]),
                        "matchers": st.dictionaries(
                            st.sampled_from(["namespace", "pod", "job", "_x"]),
                            st.sampled_from(["shop", "~checkout-.*", 'a"b', "✓"]),
                            max_size=3,
                        ),
                    },
                )
            )
    else:
        for phase in phases:
            phase.pop("metrics", None)
    if draw(st.booleans()):
        spec["failurePolicy"] = {
            "action": draw(st.sampled_from(["Rollback", "Pause"])),
            "rollbackTo": draw(st.sampled_from(["Zero", "PreviousPhase"])),
            "disableFlag": draw(st.booleans()),
        }
    if draw(st.booleans()):
        spec["notifications"] = [
            {
                "secretRef": {"name": "missing-hook", "key": "url"},
                "on": draw(
                    st.lists(st.sampled_from(["Started", "Completed", "RolledBack"]), max_size=3)
                ),
            }
        ]
    for toggle in ("enabled", "paused"):
        if draw(st.booleans()):
            spec[toggle] = draw(st.booleans())
    return spec


# ---------------------------------------------------------------------------------------------
# Mutations: each takes a valid spec and returns one way to break it, or None when it does not
# apply to this spec (e.g. "duplicate phase names" needs two phases).


@dataclass(frozen=True)
class Mutator:
    """One way to break a valid spec, and what the spec needs for it to apply."""

    make: Callable[[st.DrawFn, Spec], Mutation | None]
    needs_analysis: bool = False
    min_phases: int = 1

    def __repr__(self) -> str:
        return self.make.__name__


MUTATORS: list[Mutator] = []


def mutator(
    needs_analysis: bool = False, min_phases: int = 1
) -> Callable[[Callable[[st.DrawFn, Spec], Mutation | None]], Mutator]:
    def register(make: Callable[[st.DrawFn, Spec], Mutation | None]) -> Mutator:
        registered = Mutator(make, needs_analysis, min_phases)
        MUTATORS.append(registered)
        return registered

    return register


def _phase(draw: st.DrawFn, spec: Spec) -> int:
    return draw(st.integers(0, len(spec["phases"]) - 1))


def _drawn(draw: st.DrawFn, what: str, path: Path, values: Sequence[Any]) -> Mutation:
    """``path`` set to one of ``values``, the error blamed on that field."""
    return Mutation(what, path, draw(st.sampled_from(values)), field_path(path))


def _metric(draw: st.DrawFn, spec: Spec) -> int | None:
    if "analysis" not in spec:
        return None
    return draw(st.integers(0, len(spec["analysis"]["metrics"]) - 1))


NOT_NUMBERS = ["50%", "ten", "", True, [50], {"value": 50}, "1e2"]
NOT_DNS_NAMES = [
    "Feature_Flag",
    "-leading-dash",
    "trailing-dash-",
    "has space",
    "UPPER",
    "dot..dot",
    "ünïcode-ñame",
    "emoji-🚀",
    "a" * 254,
    "",
]
BAD_DURATIONS = ["1 hour", "5mins", "-1s", "-5m", "1d", "", "1h-5m", "∞", "10", "1.s", "s", "1hh"]
UNPARSABLE_HUGE_DURATIONS = ["99999999999999h", "9999999999999999999s", "100000000h"]
DEEP_JUNK: Any = {"a": [1, {"b": None}]}
for _ in range(40):
    DEEP_JUNK = {"junk": [DEEP_JUNK, "x"]}


@mutator()
def percentage_over_100(draw: st.DrawFn, spec: Spec) -> Mutation:
    i = _phase(draw, spec)
    path = ("phases", i, "percentage")
    value = draw(st.one_of(two_decimals(10001, 10**8), st.sampled_from([1e300, 100.01])))
    return Mutation("percentage over 100", path, value, field_path(path))


@mutator()
def percentage_negative(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("phases", 0, "percentage")
    value = draw(st.one_of(two_decimals(-(10**6), -1), st.just(-1e-2)))
    return Mutation("negative percentage", path, value, field_path(path))


@mutator()
def percentage_three_decimals(draw: st.DrawFn, spec: Spec) -> Mutation:
    i = _phase(draw, spec)
    path = ("phases", i, "percentage")
    value = draw(st.integers(0, 99999)) / 1000 + 0.0005
    return Mutation("percentage with three decimals", path, round(value, 4), field_path(path))


@mutator()
def percentage_not_a_number(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("phases", _phase(draw, spec), "percentage")
    value = draw(st.sampled_from(NOT_NUMBERS))
    return Mutation("percentage is not a number", path, value, field_path(path))


@mutator(min_phases=2)
def percentages_decrease(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    phases = spec["phases"]
    candidates = [i for i in range(1, len(phases)) if phases[i - 1]["percentage"] > 0]
    if not candidates:
        return None
    i = draw(st.sampled_from(candidates))
    below = round(phases[i - 1]["percentage"] * 100) - 1
    value = draw(st.integers(0, below)) / 100
    return Mutation(
        "percentage lower than the phase before", ("phases", i, "percentage"), value, "spec.phases"
    )


@mutator(min_phases=2)
def duplicate_phase_names(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if len(spec["phases"]) < 2:
        return None
    j = draw(st.integers(1, len(spec["phases"]) - 1))
    i = draw(st.integers(0, j - 1))
    value = spec["phases"][i]["name"]
    return Mutation("duplicate phase name", ("phases", j, "name"), value, f"spec.phases[{j}]")


@mutator()
def no_phases(draw: st.DrawFn, spec: Spec) -> Mutation:
    value = draw(st.sampled_from([[], DELETE]))
    return Mutation("no phases", ("phases",), value, "spec.phases")


@mutator()
def phases_not_a_list(draw: st.DrawFn, spec: Spec) -> Mutation:
    value = draw(st.sampled_from([{"name": "a", "percentage": 5}, "canary", 3]))
    return Mutation("phases is not a list", ("phases",), value, "spec.phases")


@mutator()
def bad_phase_duration(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("phases", _phase(draw, spec), "duration")
    value = draw(st.one_of(st.sampled_from(BAD_DURATIONS), st.integers(-5, 3600)))
    return Mutation("unparsable or negative duration", path, value, field_path(path))


@mutator()
def duration_beyond_any_clock(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("phases", _phase(draw, spec), "duration")
    return _drawn(draw, "duration too large to add to a date", path, UNPARSABLE_HUGE_DURATIONS)


@mutator(needs_analysis=True)
def bad_sustain_duration(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    m = _metric(draw, spec)
    if m is None:
        return None
    metric = spec["analysis"]["metrics"][m]
    kind = "critical" if "critical" in metric else "warning"
    path = ("analysis", "metrics", m, kind, "for")
    return _drawn(
        draw, "unparsable `for` duration", path, BAD_DURATIONS + UNPARSABLE_HUGE_DURATIONS
    )


@mutator(needs_analysis=True)
def bad_interval(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    bad = [*BAD_DURATIONS, "500ms", "0s", "0.9s", *UNPARSABLE_HUGE_DURATIONS]
    return _drawn(draw, "interval unparsable or under 1s", ("analysis", "interval"), bad)


@mutator(needs_analysis=True)
def bad_timeout(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    path = ("analysis", "prometheus", "timeout")
    return _drawn(draw, "unparsable query timeout", path, BAD_DURATIONS + UNPARSABLE_HUGE_DURATIONS)


@mutator(needs_analysis=True)
def bad_served_within(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    path = ("analysis", "served")
    value = {"within": draw(st.sampled_from([*BAD_DURATIONS, "0s", "500ms", "25h", "8760h"]))}
    return Mutation(
        "served.within unparsable or out of 1s..24h", path, value, "spec.analysis.served"
    )


@mutator(needs_analysis=True)
def bad_served_matcher(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    path = ("analysis", "served")
    label = draw(st.sampled_from(["feature_flag_key", "1pod", "pod-name", "", "ü"]))
    value = {"matchers": {label: "x"}}
    return Mutation("served.matchers with a bad label name", path, value, "spec.analysis.served")


@mutator(needs_analysis=True)
def threshold_without_bound(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    m = _metric(draw, spec)
    if m is None:
        return None
    kind = draw(st.sampled_from(["warning", "critical"]))
    path = ("analysis", "metrics", m, kind)
    return _drawn(draw, "threshold with neither above nor below", path, [{}, {"for": "5m"}])


def _replace_metric(
    spec: Spec, m: int, what: str, fields: dict[str, Any], blamed: str = ""
) -> Mutation:
    """Metric `m` replaced by one of the same name with only `fields` besides; the rejection
    must name the metric, or the field `blamed` below it (e.g. ".critical")."""
    path = ("analysis", "metrics", m)
    metric = {"name": spec["analysis"]["metrics"][m]["name"], **fields}
    return Mutation(what, path, metric, field_path(path) + blamed)


@mutator(needs_analysis=True)
def metric_without_threshold(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    m = _metric(draw, spec)
    if m is None:
        return None
    return _replace_metric(spec, m, "metric with no threshold", {"query": "vector(0)"})


@mutator(needs_analysis=True)
def ratio_without_baseline(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    m = _metric(draw, spec)
    if m is None:
        return None
    bound = draw(st.sampled_from(["aboveBaselineRatio", "belowBaselineRatio"]))
    return _replace_metric(
        spec,
        m,
        "ratio threshold without baseline",
        {"query": "vector(1)", "critical": {bound: 2.0}},
    )


@mutator(needs_analysis=True)
def non_positive_ratio(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    m = _metric(draw, spec)
    if m is None:
        return None
    ratio = draw(st.sampled_from([0, -1, -0.5]))
    return _replace_metric(
        spec,
        m,
        "ratio not above 0",
        {
            "query": "vector(1)",
            "baseline": {"capture": "AtStart"},
            "critical": {"aboveBaselineRatio": ratio},
        },
        blamed=".critical",
    )


ENUMS: list[tuple[Path, list[Any]]] = [
    (("phases", 0, "approval"), ["Sometimes", "manual", "", "AUTOMATIC"]),
    (("failurePolicy", "action"), ["Explode", "rollback", "Abort"]),
    (("failurePolicy", "rollbackTo"), ["Yesterday", "zero", "Previous"]),
    (("flag", "restartOnChange"), [[{"kind": "Job", "name": "backend"}]]),
    (("notifications",), [[{"secretRef": {"name": "h", "key": "url"}, "on": ["Exploded"]}]]),
]


@mutator()
def unknown_enum(draw: st.DrawFn, spec: Spec) -> Mutation:
    candidates = list(ENUMS)
    if "analysis" in spec:
        candidates.append((("analysis", "metrics", 0, "onNoData"), ["Panic", "pause", "None"]))
        candidates.append((("analysis", "metrics", 0, "baseline"), [{"capture": "Yesterday"}]))
    if "failurePolicy" not in spec:
        candidates = [c for c in candidates if c[0][0] != "failurePolicy"]
    path, values = draw(st.sampled_from(candidates))
    value = draw(st.sampled_from(values))
    names = {
        "restartOnChange": "spec.flag.restartOnChange[0].kind",
        "notifications": "spec.notifications[0].on[0]",
        "baseline": "spec.analysis.metrics[0].baseline.capture",
    }.get(str(path[-1]), field_path(path))
    return Mutation("unknown enum value", path, value, names)


@mutator()
def huge_string(draw: st.DrawFn, spec: Spec) -> Mutation:
    choices: list[tuple[Path, int]] = [(("flag", "key"), 253), (("phases", 0, "name"), 63)]
    if "analysis" in spec:
        choices.append((("analysis", "metrics", 0, "query"), 4096))
        choices.append((("analysis", "prometheus", "address"), 2048))
    path, limit = draw(st.sampled_from(choices))
    size = draw(st.sampled_from([limit + 1, limit * 4, 100_000]))
    char = draw(st.sampled_from(["a", "é", "9"]))
    value = ("http://" + char * size) if path[-1] == "address" else char * size
    return Mutation(f"string over {limit} characters", path, value, field_path(path))


@mutator()
def not_a_dns_name(draw: st.DrawFn, spec: Spec) -> Mutation:
    choices: list[Path] = [("flag", "configMap")]
    if "workers" in spec:
        worker = spec["workers"][0]
        choices += [("workers", 0, key) for key in ("deployment", "hpa") if key in worker]
    if "restartOnChange" in spec["flag"]:
        choices.append(("flag", "restartOnChange", 0, "name"))
    if "notifications" in spec:
        choices.append(("notifications", 0, "secretRef", "name"))
    path = draw(st.sampled_from(choices))
    value = draw(st.sampled_from(NOT_DNS_NAMES))
    return Mutation("name that is not a DNS name", path, value, field_path(path))


@mutator()
def not_a_label(draw: st.DrawFn, spec: Spec) -> Mutation:
    choices: list[Path] = [("phases", _phase(draw, spec), "name")]
    if "analysis" in spec:
        choices.append(("analysis", "metrics", 0, "name"))
    path = draw(st.sampled_from(choices))
    value = draw(
        st.one_of(
            st.sampled_from(NOT_DNS_NAMES),
            st.text(min_size=1, max_size=20).filter(lambda s: not s.isascii()),
        )
    )
    return Mutation("name that is not a DNS label", path, value, field_path(path))


@mutator()
def bad_flag_key(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("flag", "key")
    value = draw(st.sampled_from(["-feature", "a b", "ключ", "x/y", "key!", "", "trailing."]))
    return Mutation("flag key with forbidden characters", path, value, field_path(path))


@mutator()
def bad_env_key(draw: st.DrawFn, spec: Spec) -> Mutation:
    value = draw(st.sampled_from(["FEATURE-PERCENT", "1ABC", "a b", "ключ", "", "X=Y"]))
    if "env" not in spec["flag"]:
        env = {"percentage": value}
        return Mutation(
            "env key with forbidden characters", ("flag", "env"), env, "spec.flag.env.percentage"
        )
    path = ("flag", "env", "percentage")
    return Mutation("env key with forbidden characters", path, value, field_path(path))


@mutator()
def same_env_keys(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("flag", "env")
    return Mutation(
        "enabled and percentage are one key",
        path,
        {"enabled": "SAME", "percentage": "SAME"},
        "spec.flag.env",
    )


REQUIRED: list[Path] = [
    ("flag",),
    ("flag", "key"),
    ("flag", "configMap"),
    ("phases", 0, "name"),
    ("phases", 0, "percentage"),
]
REQUIRED_IN_ANALYSIS: list[Path] = [
    ("analysis", "prometheus"),
    ("analysis", "metrics"),
    ("analysis", "prometheus", "address"),
    ("analysis", "metrics", 0, "name"),
    ("analysis", "metrics", 0, "query"),
]


@mutator()
def missing_required(draw: st.DrawFn, spec: Spec) -> Mutation:
    choices = REQUIRED + (REQUIRED_IN_ANALYSIS if "analysis" in spec else [])
    if "notifications" in spec:
        choices = [*choices, ("notifications", 0, "secretRef", "key")]
    path = draw(st.sampled_from(choices))
    return Mutation("required field missing", path, DELETE, field_path(path))


WRONG_TYPES: list[tuple[Path, list[Any]]] = [
    (("enabled",), ["yes", 1, "true", None]),
    (("paused",), ["no", 0, [False]]),
    (("flag",), ["async-reports", ["a"], 7]),
    (("flag", "key"), [5, True, ["k"], {"k": 1}]),
    (("phases", 0), ["canary", 5, None]),
    (("phases", 0, "approval"), [True, 1]),
    (("phases", 0, "duration"), [60, 1.5, {"s": 1}]),
    (("failurePolicy",), ["Rollback", [1]]),
    (("workers",), [{"deployment": "w"}, "w"]),
    (("notifications",), [{"secretRef": {}}, "slack"]),
]


@mutator()
def wrong_type(draw: st.DrawFn, spec: Spec) -> Mutation:
    choices = list(WRONG_TYPES)
    if "analysis" in spec:
        choices += [
            (("analysis", "errorLimit"), ["4", 4.5, True]),
            (("analysis", "metrics"), [{"name": "x"}, "errors"]),
            (("analysis", "prometheus", "insecureSkipVerify"), ["yes", 1]),
        ]
        if "critical" in spec["analysis"]["metrics"][0]:
            choices.append((("analysis", "metrics", 0, "critical", "above"), ["0.5", [0.5]]))
    if "workers" in spec:
        choices.append((("phases", 0, "workers"), [{"replicas": "2"}, {"replicas": 2.5}, 3]))
    path, values = draw(st.sampled_from(choices))
    value = draw(st.sampled_from(values))
    return Mutation("wrong type", path, value, field_path(path), must_reject=value is not None)


@mutator()
def extra_field(draw: st.DrawFn, spec: Spec) -> Mutation:
    where: list[Path] = [(), ("flag",), ("phases", 0), ("failurePolicy",)]
    if "analysis" in spec:
        where += [("analysis",), ("analysis", "metrics", 0), ("analysis", "prometheus")]
    parent = draw(st.sampled_from(where))
    key = draw(
        st.sampled_from(["weight", "configmap", "Percentage", "x-extra", "ünïcode", "steps"])
    )
    value = draw(st.sampled_from([1, "x", DEEP_JUNK, None]))
    path = (*parent, key)
    if parent == ("failurePolicy",) and "failurePolicy" not in spec:
        path = ("failurePolicy",)
        value = {key: value}
        return Mutation("unknown field", path, value, f'unknown field "spec.failurePolicy.{key}"')
    return Mutation("unknown field", path, value, f'unknown field "{field_path(path)}"')


@mutator()
def junk_in_typed_field(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = draw(st.sampled_from([("flag", "key"), ("phases", 0, "percentage"), ("phases",)]))
    return Mutation("deeply nested junk", path, DEEP_JUNK, field_path(path))


@mutator()
def bad_workers(draw: st.DrawFn, spec: Spec) -> Mutation:
    if "workers" not in spec:
        path: Path = ("phases", 0, "workers")
        return Mutation("phase workers without spec.workers", path, {"replicas": 1}, "spec.phases")
    path = ("phases", 0, "workers")
    value = draw(
        st.sampled_from(
            [
                {},
                {"replicas": -1},
                {"minReplicas": 5, "maxReplicas": 2},
                {"minReplicas": 0},
                {"replicas": 10**6},
            ]
        )
    )
    return Mutation("phase workers out of range", path, value, field_path(path))


@mutator()
def drain_without_analysis(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    """A drain's query runs on spec.analysis.prometheus: without an analysis it cannot run."""
    if "analysis" in spec or any("metrics" in p for p in spec["phases"]):
        return None
    return Mutation(
        "a worker drain without spec.analysis",
        ("workers",),
        [{"deployment": "queue-worker", "drain": {"query": "sum(queue)"}}],
        "spec.workers[].drain",
    )


@mutator(needs_analysis=True)
def bad_drain_timeout(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("workers", 0, "drain", "timeout")
    return Mutation(
        "a drain timeout that is not a duration",
        path,
        draw(st.sampled_from(BAD_DURATIONS)),
        field_path(path),
        also=((("workers",), [{"deployment": "queue-worker", "drain": {"query": "sum(q)"}}]),),
    )


@mutator()
def empty_workers_list_with_phase_workers(draw: st.DrawFn, spec: Spec) -> Mutation:
    """`workers: []` names no workload, so phases' worker scales have nothing to scale."""
    return Mutation(
        "phase workers with an empty spec.workers",
        ("workers",),
        [],
        "spec.phases",
        also=((("phases", 0, "workers"), {"replicas": 1}),),
    )


@mutator()
def worker_names_nothing(draw: st.DrawFn, spec: Spec) -> Mutation:
    value = draw(st.sampled_from([[{}], [{"deployment": None}]]))
    return Mutation(
        "worker naming nothing", ("workers",), value, "spec.workers[0]", must_reject=value == [{}]
    )


@mutator(needs_analysis=True)
def bad_address(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    path = ("analysis", "prometheus", "address")
    value = draw(st.sampled_from(["prometheus:9090", "ftp://p", "http://", "http:// p", ""]))
    return Mutation("address not an http(s) URL", path, value, field_path(path))


@mutator(needs_analysis=True)
def odd_but_parsable_address(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    """Addresses the URL pattern lets through but no HTTP client can use: if admission lets
    them in, the operator must say so in status rather than crash."""
    if "analysis" not in spec:
        return None
    path = ("analysis", "prometheus", "address")
    value = draw(
        st.sampled_from(
            [
                "http://[",
                "http://a:99999",
                "http://:9090",
                "http://exa mple",
                "http://ünï.example",
                "http://%zz",
                "https://[::1",
                "http://a:b:c",
            ]
        )
    )
    return Mutation("address no client can use", path, value, field_path(path), must_reject=False)


@mutator()
def override_names_unknown_metric(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("phases", 0, "metrics")
    value = [{"name": "not-defined-anywhere", "critical": {"above": 1}}]
    return Mutation("phase override of an undefined metric", path, value, "spec.phases")


@mutator(needs_analysis=True)
def bad_error_limit(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if "analysis" not in spec:
        return None
    path = ("analysis", "errorLimit")
    value = draw(st.sampled_from([0, -1, 101, 2**40]))
    return Mutation("errorLimit out of range", path, value, field_path(path))


@mutator()
def too_many_phases(draw: st.DrawFn, spec: Spec) -> Mutation:
    value = [{"name": f"p{i}", "percentage": min(i, 100)} for i in range(21)]
    return Mutation("more than 20 phases", ("phases",), value, "spec.phases")


@mutator()
def null_value(draw: st.DrawFn, spec: Spec) -> Mutation:
    """JSON null where a value is optional: either refused naming the field or treated as
    absent; either way nothing may crash."""
    choices: list[Path] = [("enabled",), ("phases", 0, "duration"), ("flag", "env")]
    if "analysis" in spec:
        choices += [("analysis", "metrics", 0, "onNoData"), ("analysis", "interval")]
    path = draw(st.sampled_from(choices))
    return Mutation("null value", path, None, field_path(path), must_reject=False)


@mutator(needs_analysis=True)
def edge_value(draw: st.DrawFn, spec: Spec) -> Mutation:
    """Values at the edge of what admission allows: admitted, and the operator must run them."""
    twenty = [{"name": f"p{i}", "percentage": 100, "duration": "0s"} for i in range(20)]
    edges: list[tuple[Path, Any]] = [
        (("phases",), twenty),
        (("phases", 0, "duration"), "8760h"),
        (("analysis", "interval"), "8760h"),
        (("analysis", "prometheus", "timeout"), "8760h"),
        (("analysis", "metrics", 0, "warning"), {"above": 1.7976931348623157e308, "for": "8760h"}),
        (("analysis", "metrics", 0, "warning"), {"below": -1.7976931348623157e308}),
        (("analysis", "metrics", 0, "query"), "vector(0)" + " " * (4096 - len("vector(0)"))),
        (("analysis", "metrics", 0, "query"), "é" * 4096),
        (("analysis", "prometheus", "address"), spec["analysis"]["prometheus"]["address"] + "/x"),
        (("analysis", "prometheus", "address"), "http://127.0.0.1:1"),
        (("analysis", "errorLimit"), 100),
        (("flag", "key"), "k" * 253),
        (("phases", 0, "name"), "n" * 63),
        (("flag", "env"), {"enabled": "E" * 253, "percentage": "P" * 253}),
        (("workers",), [{"deployment": "d" * 253, "hpa": "h" * 253}]),
        (("flag", "restartOnChange"), [{"kind": "DaemonSet", "name": "r" * 253}]),
        (
            ("notifications",),
            [{"secretRef": {"name": "s" * 253, "key": "k" * 253}} for _ in range(10)],
        ),
    ]
    path, value = draw(st.sampled_from(edges))
    return Mutation("value at the edge of the schema", path, value, field_path(path), False)


def _with_audiences(spec: Spec) -> tuple[tuple[Path, Any], ...]:
    """The edit that gives ``spec`` its audiences when it has none (a mutation's `also`)."""
    return (
        () if "audiences" in spec["flag"] else ((("flag", "audiences"), copy.deepcopy(AUDIENCES)),)
    )


@mutator()
def audience_not_defined(draw: st.DrawFn, spec: Spec) -> Mutation:
    i = _phase(draw, spec)
    path = ("phases", i, "audiences")
    return Mutation("a phase names an undefined audience", path, ["ghost"], "spec.phases")


@mutator()
def audience_with_two_matchers(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("flag", "audiences", 0, "in")
    also = _with_audiences(spec)
    return Mutation(
        "an audience with in and endsWith",
        path,
        ["a@example.com"],
        field_path(path[:-1]),
        also=also,
    )


@mutator()
def audience_value_too_long(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("flag", "audiences", 1, "in")
    value = [draw(st.sampled_from(["x" * 65, "ü" * 65, "🚀" * 65]))]
    also = _with_audiences(spec)
    return Mutation(
        "an audience value over 64 characters", path, value, field_path((*path, 0)), also=also
    )


@mutator()
def audience_names_repeated(draw: st.DrawFn, spec: Spec) -> Mutation:
    path = ("flag", "audiences", 1, "name")
    also = _with_audiences(spec)
    return Mutation("two audiences of one name", path, "team", "spec.flag.audiences[1]", also=also)


@mutator(min_phases=2)
def audiences_shrink_on_the_way_up(draw: st.DrawFn, spec: Spec) -> Mutation | None:
    if spec["phases"][1]["percentage"] >= 100:
        return None  # a phase at 100 % needs no audiences
    also = (*_with_audiences(spec), (("phases", 0, "audiences"), ["team", "beta"]))
    path = ("phases", 1, "audiences")
    return Mutation(
        "a phase drops an audience of the one before", path, ["team"], "spec.phases", also=also
    )


@st.composite
def cases(draw: st.DrawFn, prometheus: str, mutate: Mutator | None) -> Case:
    """A valid spec broken by `mutate` (kept valid when `mutate` is None, or when the draw gave
    the mutator nothing to break, e.g. no earlier phase above 0 % to decrease from)."""
    if mutate is None:
        length = draw(st.sampled_from([None, None, 63, 64, 253]))
        return Case(draw(valid_specs(prometheus)), None, length)
    spec = draw(valid_specs(prometheus, mutate.needs_analysis, mutate.min_phases))
    return Case(spec, mutate.make(draw, spec))
