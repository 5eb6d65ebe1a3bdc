"""Ramp's Argo CD health check (deploy/argocd/rollout-health.lua), run by a real Lua interpreter
the way Argo CD runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.support.cluster import ROOT, run_tool

HEALTH_SCRIPT = ROOT / "deploy" / "argocd" / "rollout-health.lua"
DRIVER = Path(__file__).with_name("argocd_health.lua")
RECORDED = ROOT / "tests" / "data" / "argocd-health"
"""Rollout objects recorded from the testbed, one per state, named STATE.json: written by
tests/integration/test_gitops_tools_read_rollout_health.py with RAMP_RECORD_HEALTH_DATA=1."""

LUA = "lua5.1"
"""Argo CD runs health scripts in gopher-lua, a Lua 5.1."""


def argocd_health(obj: dict[str, Any]) -> dict[str, str]:
    """{status, message} as Argo CD would show them for this Rollout object."""
    lua = shutil.which(LUA)
    assert lua is not None, (
        f"{LUA} is not installed; `make binaries` installs it (lua5.1, lua-cjson)"
    )
    out = run_tool([lua, str(DRIVER)], str(HEALTH_SCRIPT), input=json.dumps(obj)).stdout
    health: dict[str, str] = json.loads(out)
    return health


def recordable(obj: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Rollout the health check may read, without what differs per run
    (namespace, uid, managed fields)."""
    meta = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"name": meta["name"], "generation": meta["generation"]},
        "spec": obj["spec"],
        "status": obj.get("status") or {},
    }
