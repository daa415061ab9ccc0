"""Yosys results kept by digest, so a sweep never synthesizes an identical design twice.

A result is keyed by the plan's digest (every staged byte, the script, the family) and the
Yosys version line, and stored as ``<cache_dir>/yosys/<key[:2]>/<key>.json`` with its log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from codesign.io import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)


def cache_key(design_digest: str, tool_version: str) -> str:
    """The key of a plan digest synthesized by one Yosys version."""
    return hashlib.sha256(f"{design_digest}\0{tool_version}".encode()).hexdigest()


class SynthCache:
    """Results of earlier Yosys runs under ``root`` (usually ``Settings.cache_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "yosys"

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def load(self, key: str) -> dict[str, Any] | None:
        """The stored record for ``key``, or None (missing or unreadable)."""
        path = self._path(key, ".json")
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except ValueError:
            log.warning("ignoring unreadable cache entry %s", path)
            return None
        return record if record.get("key") == key else None

    def store(self, key: str, record: dict[str, Any], log_file: Path | None = None) -> None:
        """Store ``record`` (and a copy of the Yosys log) under ``key``, atomically."""
        if log_file is not None and Path(log_file).is_file():
            atomic_write_bytes(self._path(key, ".log"), Path(log_file).read_bytes())
        atomic_write_json(self._path(key, ".json"), {**record, "key": key})

    def copy_log(self, key: str, dest: Path) -> bool:
        """Copy the stored log of ``key`` to ``dest``; False when none was kept."""
        src = self._path(key, ".log")
        if not src.is_file():
            return False
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return True
