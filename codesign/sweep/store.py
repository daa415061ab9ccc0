"""Point records: one atomic JSON file per point, the sweep's own kill-safe state.

``SWEEP_DIR/points/<digest>.json`` holds a point's status (``done`` or ``failed``), the
axis values, the run folder, timing, the failure reason and log, and the figures the
Pareto analysis and the report read. A record is only ever replaced whole
(:func:`codesign.io.atomic_write_json`), so a sweep killed at any instant leaves each
point either recorded or not: a restart runs exactly the points without a ``done`` record.
``SWEEP_DIR/plan.json`` lists the points the spec expands to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from codesign.io import atomic_write_json

log = logging.getLogger(__name__)

POINTS_DIR = "points"
PLAN_FILE = "plan.json"


class PointStatus(StrEnum):
    """Where a point stands."""

    DONE = "done"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a point failed."""

    TIMEOUT = "timeout"
    INFEASIBLE = "infeasible"
    TOOL = "tool"
    CONFIG = "config"
    CRASH = "crash"  # the point's process died without a result (signal, out of memory)
    ERROR = "error"  # any other exception


@dataclass
class PointRecord:
    """What a sweep knows about one finished (or failed) point.

    Attributes:
        digest: The point's config digest (its run folder's name).
        status: ``done`` or ``failed``.
        labels: Axis -> value label.
        run_dir: The point's run folder.
        host: The machine that ran it.
        started: UTC start time (ISO 8601).
        finished: UTC end time.
        seconds: Wall time of the point's process.
        attempts: How many times the sweep ran it.
        failure: ``{"kind", "step", "message"}`` for a failed point.
        log: The point's log file (stdout and stderr of its process).
        log_tail: The last lines of that log, for a failed point.
        report: The flow report (``RUN/report.json``) of a done point.
        layers: Per-layer resources: FINN's estimate and, where synthesized, Yosys'.
        steps: Step -> ``{"status", "seconds", "reused"}``.
        bits: The point's bit config in one line (its ``model:`` section).
    """

    digest: str
    status: PointStatus
    labels: dict[str, str] = field(default_factory=dict)
    run_dir: str = ""
    host: str = ""
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    attempts: int = 1
    failure: dict[str, Any] | None = None
    log: str | None = None
    log_tail: str | None = None
    report: dict[str, Any] | None = None
    layers: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    bits: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (enums as values)."""
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointRecord:
        """Rebuild a record, ignoring keys it does not know."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["status"] = PointStatus(known["status"])
        return cls(**known)


class PointStore:
    """The point records of one sweep folder."""

    def __init__(self, sweep_dir: Path) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.dir = self.sweep_dir / POINTS_DIR

    def path(self, digest: str) -> Path:
        """The record file of point ``digest``."""
        return self.dir / f"{digest}.json"

    def get(self, digest: str) -> PointRecord | None:
        """The record of ``digest``, or ``None`` (also for an unreadable file, logged)."""
        path = self.path(digest)
        if not path.exists():
            return None
        try:
            return PointRecord.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            log.warning("ignoring unreadable point record %s (%s)", path, err)
            return None

    def put(self, record: PointRecord) -> Path:
        """Write ``record`` atomically."""
        return atomic_write_json(self.path(record.digest), record.to_dict())

    def __iter__(self) -> Iterator[PointRecord]:
        for path in sorted(self.dir.glob("*.json")):
            record = self.get(path.stem)
            if record is not None:
                yield record

    def write_plan(self, plan: list[dict[str, Any]]) -> Path:
        """Write the sweep's point list (digest, labels, config) atomically."""
        return atomic_write_json(self.sweep_dir / PLAN_FILE, plan)

    def read_plan(self) -> list[dict[str, Any]]:
        """The point list written by :meth:`write_plan` (empty if none)."""
        path = self.sweep_dir / PLAN_FILE
        return json.loads(path.read_text()) if path.exists() else []
