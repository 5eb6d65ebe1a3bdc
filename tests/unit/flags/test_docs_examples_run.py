"""The examples docs/flags.md shows for the served gauge, the dual-run decorator and the
fallback decorator run as written, against a real flags.json and prometheus_client's default
registry, and do what the text around them says."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import prometheus_client
import pytest
from prometheus_client import REGISTRY, start_http_server

from ramp.k8s.flagd import render_flags_json
from tests.support.cluster import ROOT

MARKER = "<!-- tests/unit/flags/test_docs_examples_run.py runs this block -->"


def shown_blocks() -> list[str]:
    text = (ROOT / "docs" / "flags.md").read_text()
    return re.findall(re.escape(MARKER) + r"\n```python\n(.*?)^```$", text, flags=re.S | re.M)


def run_block(index: int, flags_json: str, tmp_path: Path, **names: Any) -> dict[str, Any]:
    block = shown_blocks()[index]
    path = tmp_path / "flags.json"
    path.write_text(flags_json, encoding="utf-8")
    assert "/etc/ramp/flags.json" in block
    code = block.replace("/etc/ramp/flags.json", str(path))
    namespace: dict[str, Any] = {"__name__": "docs_example", **names}
    exec(compile(code, f"docs/flags.md block {index}", "exec"), namespace)
    return namespace


def test_the_doc_shows_three_runnable_blocks() -> None:
    assert len(shown_blocks()) == 3


def test_the_served_gauge_example_serves_the_percentage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    def start_on_a_free_port(port: int) -> None:
        assert port == 9100
        started.append(start_http_server(0)[0])  # port 0: the system picks a free one

    monkeypatch.setattr(prometheus_client, "start_http_server", start_on_a_free_port)
    namespace = run_block(0, render_flags_json("orders-v2-path", True, 25), tmp_path)
    (server,) = started
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            exposed = answer.read().decode()
    finally:
        server.shutdown()
    assert 'ramp_flag_served_percentage{feature_flag_key="orders-v2-path"} 25.0' in exposed
    assert namespace["flags"].percentage("orders-v2-path") == 25.0


def order(customer: str, *amounts: float) -> SimpleNamespace:
    lines = [SimpleNamespace(amount=a) for a in amounts]
    return SimpleNamespace(customer_id=customer, lines=lines, tax_rate=0.2)


def test_the_dual_run_example_serves_by_customer_and_compares(tmp_path: Path) -> None:
    namespace = run_block(
        1, render_flags_json("orders-v2-path", True, 50), tmp_path, order=order("c-0", 10.0)
    )
    price, flags = namespace["price"], namespace["flags"]
    assert namespace["total"] == 12.0
    price.helper.sample_rate = 1.0  # compare every call here, to count them
    before = {
        r: REGISTRY.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": "orders-v2-path", "result": r}
        )
        or 0
        for r in ("match", "mismatch")
    }
    for i in range(50):
        o = order(f"c-{i}", 10.0, 2.5)
        assert price(o) == 15.0
        assert flags.is_enabled("orders-v2-path", o.customer_id) in (True, False)
    after = {
        r: REGISTRY.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": "orders-v2-path", "result": r}
        )
        for r in ("match", "mismatch")
    }
    assert after["match"] == before["match"] + 50, "equal prices within half a cent"
    assert after["mismatch"] == before["mismatch"]


@pytest.mark.parametrize("failure", [ConnectionError, TimeoutError])
def test_the_fallback_example_serves_the_legacy_store_when_the_new_one_fails(
    failure: type[Exception], tmp_path: Path
) -> None:
    class Down:
        def get(self, user_id: str) -> str:
            raise failure("the new store is down")

    namespace = run_block(
        2,
        render_flags_json("profiles-v2", True, 100),
        tmp_path,
        legacy_store={"ada": "Ada (v1)"},
        new_store=Down(),
    )
    labels = {"feature_flag_key": "profiles-v2"}
    before = REGISTRY.get_sample_value("ramp_flag_fallbacks_total", labels) or 0
    assert namespace["load_profile"]("ada") == "Ada (v1)"
    assert REGISTRY.get_sample_value("ramp_flag_fallbacks_total", labels) == before + 1
