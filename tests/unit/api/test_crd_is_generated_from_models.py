"""crds/ is generated from the models; it never drifts, and it carries what users rely on."""

from __future__ import annotations

from pathlib import Path

import yaml

from ramp.api.crd import build_crd, render_crd

ROOT = Path(__file__).resolve().parents[3]


def test_committed_crd_matches_the_models() -> None:
    committed = (ROOT / "crds" / "ramp.dev_rollouts.yaml").read_text()
    assert committed == render_crd(), "crds/ is stale: run `make crds` and commit the result"


def test_chart_ships_the_same_crd() -> None:
    chart_copy = ROOT / "charts" / "ramp" / "crds" / "ramp.dev_rollouts.yaml"
    assert chart_copy.read_text() == render_crd(), "run `make crds` to refresh the chart's copy"


def _walk(node: dict[str, object], path: str = "") -> list[tuple[str, dict[str, object]]]:
    found = [(path, node)]
    for name, sub in (node.get("properties") or {}).items():  # type: ignore[attr-defined]
        found += _walk(sub, f"{path}.{name}")
    items = node.get("items")
    if isinstance(items, dict):
        found += _walk(items, f"{path}[]")
    return found


def test_every_spec_field_is_described_for_kubectl_explain() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing = [
        path
        for path, node in _walk(schema["properties"]["spec"], "spec")
        if path != "spec" and not path.endswith("[]") and not node.get("description")
    ]
    assert missing == []


def test_schema_is_structural() -> None:
    text = yaml.safe_dump(build_crd())
    for forbidden in (
        "$ref",
        "anyOf",
        "title:",
        "default:",
        "const:",
        "additionalProperties: false",
    ):
        assert forbidden not in text


def test_printer_columns_and_names() -> None:
    version = build_crd()["spec"]["versions"][0]
    columns = [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c]
    assert columns == ["Phase", "Step", "Percent", "Health", "Age", "Draining"]
    names = build_crd()["spec"]["names"]
    assert names["shortNames"] == ["rlt"]
    assert names["categories"] == ["ramp"]
    assert version["subresources"] == {"status": {}}
