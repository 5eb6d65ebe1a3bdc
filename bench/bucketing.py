"""Which readers agree with ramp.flags, per bucketing scheme: the README's agreement table.

For each scheme Ramp can write (``spec.flag.bucketing``), the flags.json Ramp publishes at
``--percentage`` is read by each implementation for the same targeting keys, and each
implementation's decision is compared with ramp.flags' (``FlagFile.is_enabled``):

- ramp.flags itself, from the file, against its own bucketing function (``is_on``);
- OpenFeature's Python flagd provider, the version pinned in pyproject.toml, in file mode;
- flagd's Go core (testbed/flagd-eval on github.com/open-feature/flagd/core), which the flagd
  daemon and sidecar, so every RPC provider, and the Go in-process provider evaluate with;
- flagd's JavaScript core (@openfeature/flagd-core from the npm registry, installed once into the
  testbed cache), which the JS in-process providers evaluate with; left out when npm is missing.

Prints a Markdown table and the scheme most implementations agree with on every key.

    .venv/bin/python -m bench.bucketing [--keys 20000] [--percentage 25]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext

from ramp.flags import SCHEMES, FlagFile, is_on
from ramp.k8s.flagd import render_flags_json
from tests.support.flagd_go import build_flagd_eval, core_version, decisions

FLAG = "async-reports"
JS_CORE = "@openfeature/flagd-core"
JS_CORE_VERSION = "4.0.1"
CACHE = Path(
    os.environ.get("RAMP_TESTBED_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ramp-testbed"
)

# Reads flags.json (argv[1] under node -e), one targeting key per JSON line on stdin;
# prints the booleans.
JS_EVAL = """
const fs = require("fs");
const { FlagdCore } = require("@openfeature/flagd-core");
const core = new FlagdCore();
core.setConfigurations(fs.readFileSync(process.argv[1], "utf8"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const keys = fs.readFileSync(0, "utf8").split("\\n").filter(Boolean).map(JSON.parse);
const out = keys.map((k) => {
  try {
    return core.resolveBooleanEvaluation(process.argv[2], false, { targetingKey: k }, quiet).value;
  } catch (e) {
    return false;
  }
});
process.stdout.write(JSON.stringify(out));
"""

Reader = Callable[[Path, list[str], str], list[bool]]
"""Decisions of one implementation: (flags.json, targeting keys, the scheme it was written for)."""


def targeting_keys(count: int) -> list[str]:
    """User ids as services have them: numeric, UUID-like, e-mail, and a tenth with non-ASCII."""
    rnd = random.Random(14)
    kinds = [
        lambda: f"user-{rnd.randrange(10**9)}",
        lambda: f"{rnd.getrandbits(128):032x}",
        lambda: f"{rnd.choice(['ana', 'bo', 'chen', 'dara'])}{rnd.randrange(10**6)}@example.com",
    ]
    keys = [rnd.choice(kinds)() for _ in range(count)]
    for i in range(0, count, 10):
        keys[i] = rnd.choice(["josé", "zoë", "李", "müller", "🦊"]) + str(i)
    return keys


def python_provider(path: Path, keys: list[str], _scheme: str) -> list[bool]:
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path))
    domain = f"bench-{path.parent.name}"
    api.set_provider_and_wait(provider, domain)
    client = api.get_client(domain)
    ctx = EvaluationContext
    return [client.get_boolean_value(FLAG, False, ctx(targeting_key=k)) for k in keys]


def js_core_dir() -> Path | None:
    """@openfeature/flagd-core installed once (npm) into the testbed cache; None without npm."""
    target = CACHE / f"npm-flagd-core-{JS_CORE_VERSION}"
    if (target / "node_modules" / JS_CORE / "package.json").exists():
        return target
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    tmp = target.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", f"{JS_CORE}@{JS_CORE_VERSION}"],
        cwd=tmp,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def js_core(where: Path) -> Reader:
    def read(path: Path, keys: list[str], _scheme: str) -> list[bool]:
        run = subprocess.run(
            ["node", "-e", JS_EVAL, str(path), FLAG],
            input="".join(json.dumps(k) + "\n" for k in keys),
            capture_output=True,
            text=True,
            check=True,
            cwd=where,
        )
        return [v is True for v in json.loads(run.stdout)]

    return read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000, help="distinct targeting keys")
    parser.add_argument("--percentage", type=float, default=25.0)
    args = parser.parse_args(argv)
    logging.getLogger("openfeature").setLevel(logging.CRITICAL)  # one error per odd key

    keys = targeting_keys(args.keys)
    flagd_eval = build_flagd_eval()
    provider_version = importlib.metadata.version("openfeature-provider-flagd")
    readers: dict[str, Reader] = {
        "ramp.flags (is_on, without the file)": lambda _p, ks, scheme: [
            is_on(FLAG, k, args.percentage, scheme) for k in ks
        ],
        f"Python flagd provider {provider_version}": python_provider,
        f"flagd Go core {core_version(flagd_eval)}": lambda p, ks, _scheme: decisions(
            flagd_eval, p, FLAG, ks
        ),
    }
    js = js_core_dir()
    if js is not None:
        readers[f"flagd JS core {JS_CORE_VERSION}"] = js_core(js)

    agreement: dict[str, dict[str, float]] = {name: {} for name in readers}
    ascii_agreement: dict[str, dict[str, float]] = {name: {} for name in readers}
    ascii_keys = [i for i, k in enumerate(keys) if k.isascii()]
    with tempfile.TemporaryDirectory(prefix="ramp-bucketing-") as tmp:
        for scheme in SCHEMES:
            where = Path(tmp) / scheme
            where.mkdir()
            path = where / "flags.json"
            path.write_text(render_flags_json(FLAG, True, args.percentage, scheme), "utf-8")
            flags = FlagFile(path)
            ramp = [flags.is_enabled(FLAG, k) for k in keys]
            for name, read in readers.items():
                theirs = read(path, keys, scheme)
                same = sum(a == b for a, b in zip(ramp, theirs, strict=True))
                agreement[name][scheme] = 100 * same / len(keys)
                same_ascii = sum(ramp[i] == theirs[i] for i in ascii_keys)
                ascii_agreement[name][scheme] = 100 * same_ascii / len(ascii_keys)
    api.shutdown()

    print(
        f"Agreement with ramp.flags on {len(keys):,} targeting keys at {args.percentage:g} % "
        f"(a tenth of them non-ASCII), per scheme of spec.flag.bucketing:\n"
    )
    print("| implementation | " + " | ".join(f"`{s}`" for s in SCHEMES) + " |")
    print("| --- |" + " ---: |" * len(SCHEMES))
    for name, row in agreement.items():
        cells = [f"**{row[s]:.2f} %**" if row[s] == 100 else f"{row[s]:.2f} %" for s in SCHEMES]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for name, row in ascii_agreement.items():
        for scheme in SCHEMES:
            if row[scheme] == 100 and agreement[name][scheme] < 100:
                print(f"- {name} agrees in `{scheme}` on every ASCII key, not on the others.")
    others = [n for n in readers if not n.startswith("ramp.flags")]
    full = {s: [n for n in others if agreement[n][s] == 100] for s in SCHEMES}
    best = max(len(v) for v in full.values())
    print()
    for scheme in SCHEMES:
        mark = "  <- most" if len(full[scheme]) == best else ""
        agreeing = ", ".join(full[scheme]) or "none"
        print(f"- {scheme}: {len(full[scheme])} agree on every key ({agreeing}){mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
