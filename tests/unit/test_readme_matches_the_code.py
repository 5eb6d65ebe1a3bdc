"""What the README shows is what the code does: the complete example is the file it names, and
the simulate sample is what `ramp simulate` prints."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.support.cluster import ROOT

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    return README[start : README.index("\n## ", start + 1)]


def blocks(text: str, language: str = "") -> list[str]:
    """The fenced blocks of ``language`` ("" for those without one), in order."""
    found = []
    for fence, body in re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M):
        if fence == language:
            found.append(body)
    return found


def test_the_complete_example_is_the_file_it_names() -> None:
    shown = section("A complete example")
    name = re.search(r"This is `(examples/[\w-]+\.yaml)`", shown)
    assert name is not None
    assert yaml.safe_load(blocks(shown, "yaml")[0]) == yaml.safe_load(
        (ROOT / name.group(1)).read_text()
    )


def test_the_simulate_sample_is_what_simulate_prints() -> None:
    shown = section("Try thresholds before you use them: `ramp simulate`")
    command, output = blocks(shown, "sh")[0], blocks(shown)[0]
    args = command.replace("\\\n", " ").split()
    assert args[:2] == ["ramp", "simulate"], command
    printed = subprocess.run(
        [sys.executable, "-m", "ramp", *args[1:]],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=True,
    ).stdout
    assert printed.strip() == output.strip(), printed
