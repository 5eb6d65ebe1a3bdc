"""The CustomResourceDefinition, generated from the pydantic models (run: python -m ramp.api.crd).

Pydantic's JSON Schema is close to what Kubernetes wants; `structural` turns it into a
structural OpenAPI v3 schema: references inlined, optionals unwrapped, and the keywords
Kubernetes rejects (`title`, `default`, `const`, `additionalProperties: false`) rewritten.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from ramp.api import GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION
from ramp.api.base import validations
from ramp.api.spec import BUCKETING_FIXED_WHILE_EXPOSED, RolloutSpec
from ramp.api.status import RolloutStatus

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Step", "type": "string", "jsonPath": ".status.currentPhase"},
    # Who is served: the percentage and the audiences besides it ("10% +2").
    {"name": "Percent", "type": "string", "jsonPath": ".status.served"},
    {"name": "Health", "type": "string", "jsonPath": ".status.health"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    # Empty unless a worker waits for its queue after the exposure went down.
    {"name": "Draining", "type": "string", "jsonPath": ".status.draining"},
    # A string, not a date: kubectl shows a date as an age, "<invalid>" for a future time.
    # The time itself reads right, and no countdown is written into status.
    {"name": "Next", "type": "string", "jsonPath": ".status.nextPromotionAt", "priority": 1},
    {"name": "Flag", "type": "string", "jsonPath": ".spec.flag.key", "priority": 1},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
]

METADATA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # The name is the value of the ramp.dev/rollout label on the ConfigMap a Rollout owns,
        # and a label value has at most 63 characters: a longer name could never be published.
        "name": {"type": "string", "maxLength": 63},
    },
}

_DROPPED = {"title", "default", "const", "$defs", "discriminator"}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One pydantic JSON Schema node as a Kubernetes structural schema node."""
    node = dict(schema)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {options} in a structural schema")
        node = {**structural(options[0], defs), **node}
    if "const" in node:
        node["enum"] = [node["const"]]
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    bound = node.get("exclusiveMinimum")
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        node["minimum"] = node["exclusiveMinimum"]
        node["exclusiveMinimum"] = True
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs)
        else:
            out[key] = value
    if out.get("format") == "date-time":
        out["type"] = "string"
    return out


def model_schema(model: type[RolloutSpec] | type[RolloutStatus]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def build_crd() -> dict[str, Any]:
    spec = model_schema(RolloutSpec)
    status = model_schema(RolloutStatus)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "ramp", "app.kubernetes.io/part-of": "ramp"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["ramp"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A Rollout moves a feature flag from 0 % to 100 % "
                            "of users in phases, checks health in Prometheus, and rolls back "
                            "by itself when a threshold is crossed.",
                            "required": ["spec"],
                            # Rules that compare the spec with the old status live here.
                            **validations(BUCKETING_FIXED_WHILE_EXPOSED),
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": METADATA,
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def render_crd() -> str:
    header = "# Generated by `make crds` from operator/ramp/api/ (python -m ramp.api.crd).\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100)


if __name__ == "__main__":
    sys.stdout.write(render_crd())
