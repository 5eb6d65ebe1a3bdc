"""A ConfigMap volume as the kubelet writes it, for app processes that read flags.json."""

from __future__ import annotations

import os
from pathlib import Path


class Mount:
    """A ConfigMap volume as the kubelet writes it: ``flags.json -> ..data/flags.json`` and
    ``..data -> ..<timestamp>/``, updated by swapping ``..data`` in one rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.revision = 0
        (root / "flags.json").symlink_to("..data/flags.json")

    @property
    def path(self) -> Path:
        return self.root / "flags.json"

    def publish(self, flags_json: str) -> None:
        self.revision += 1
        data = self.root / f"..2026_12_07_{self.revision:06d}"
        data.mkdir()
        (data / "flags.json").write_text(flags_json, encoding="utf-8")
        staged = self.root / "..data_tmp"
        staged.symlink_to(data.name)
        os.replace(staged, self.root / "..data")

    def remove(self) -> None:
        (self.root / "..data").unlink()
