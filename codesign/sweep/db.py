"""The sweep's adapter to the results database (:class:`codesign.cost.db.ResultsDB`).

Each point goes in twice, with its provenance:

* its hardware measurements (FINN's estimate, Verilator, Yosys) through
  :meth:`ResultsDB.record_run_folder` of the point's run folder, into the ``designs`` and
  ``layers`` tables (rows already stored are skipped, so a re-run adds nothing);
* one row of the ``sweep_points`` table (this module's, created beside the others on the
  same engine): sweep, config digest, status, axis labels, accuracy per test-data quality,
  the headline hardware figures, failure, host, times and the resolved config. The row is
  keyed by (sweep, digest) and replaced when the point runs again (``--retry-failed``, or
  a resume after a kill between the database write and the point record), so a point is
  never in the table twice.

Writes happen where the point ran: in the driver's pool threads for a local sweep, on the
Dask worker for a cluster sweep (give a URL every worker reaches, e.g. PostgreSQL).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from codesign.errors import ConfigError
from codesign.sweep.pareto import MIXED, qualities
from codesign.sweep.store import PointRecord, PointStatus

log = logging.getLogger(__name__)

DB_FILE = "results.sqlite"


class _Base(DeclarativeBase):
    """The sweep's tables (created with ``checkfirst`` on the results engine)."""


class SweepPointRow(_Base):
    """One point of one sweep."""

    __tablename__ = "sweep_points"
    __table_args__ = (UniqueConstraint("sweep", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sweep: Mapped[str] = mapped_column(String(128), index=True)
    digest: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    labels: Mapped[str] = mapped_column(Text, default="{}")
    board: Mapped[str] = mapped_column(String(64), default="")
    bits: Mapped[str] = mapped_column(String(200), default="")
    clean_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    mixed_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy: Mapped[str] = mapped_column(Text, default="{}")  # quality -> accuracy
    lut: Mapped[float | None] = mapped_column(Float, nullable=True)
    lut_source: Mapped[str] = mapped_column(String(16), default="")
    dsp: Mapped[float | None] = mapped_column(Float, nullable=True)
    bram18: Mapped[float | None] = mapped_column(Float, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_us: Mapped[float | None] = mapped_column(Float, nullable=True)
    failure_kind: Mapped[str] = mapped_column(String(16), default="")
    failure: Mapped[str] = mapped_column(Text, default="")
    run_dir: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str] = mapped_column(String(128), default="")
    started: Mapped[str] = mapped_column(String(32), default="")
    finished: Mapped[str] = mapped_column(String(32), default="")
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    config: Mapped[str] = mapped_column(Text, default="{}")


def open_db(url: str):  # noqa: ANN201 (a codesign.cost.db.ResultsDB)
    """Open (create, migrate) the results database and the sweep table on it."""
    from codesign.cost.db import ResultsDB  # noqa: PLC0415 (SQLAlchemy models on use)

    db = ResultsDB(url)
    _Base.metadata.create_all(db.engine, checkfirst=True)
    return db


def save_point(url: str, sweep: str, record: PointRecord, config: dict[str, Any]) -> None:
    """Write one point (see the module docstring); replaces the point's earlier row.

    Raises:
        ConfigError: The database cannot be opened.
    """
    db = open_db(url)
    values = _values(sweep, record, config)
    for _ in range(2):  # a concurrent first insert of the same point: update it instead
        try:
            with Session(db.engine) as session, session.begin():
                row = session.scalars(
                    select(SweepPointRow).where(
                        SweepPointRow.sweep == sweep, SweepPointRow.digest == record.digest
                    )
                ).one_or_none()
                if row is None:
                    session.add(SweepPointRow(**values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            break
        except IntegrityError:
            continue
    if record.status is PointStatus.DONE and (config.get("compile") is not None):
        try:
            added = db.record_run_folder(record.run_dir)
            log.info("results db: %d hardware rows from %s", len(added), record.run_dir)
        except ConfigError as err:  # no compile folder (the flow stopped before compile)
            log.info("results db: no hardware rows for %s (%s)", record.digest, err)


def load_points(url: str, sweep: str | None = None) -> list[dict[str, Any]]:
    """The ``sweep_points`` rows (of one sweep), as dicts with JSON columns decoded."""
    db = open_db(url)
    with Session(db.engine) as session:
        stmt = select(SweepPointRow).order_by(SweepPointRow.id)
        if sweep is not None:
            stmt = stmt.where(SweepPointRow.sweep == sweep)
        out = []
        for row in session.scalars(stmt):
            data = {c.name: getattr(row, c.name) for c in SweepPointRow.__table__.columns}
            for key in ("labels", "accuracy", "config"):
                data[key] = json.loads(data[key] or "{}")
            out.append(data)
        return out


def _values(sweep: str, record: PointRecord, config: dict[str, Any]) -> dict[str, Any]:
    report = record.report or {}
    accs = qualities(report) if "clean_accuracy" in report else {}
    hw = report.get("hardware") or {}
    res = hw.get("resources") or {}
    source = "yosys" if res.get("yosys") else "finn" if res.get("finn") else ""
    counts = res.get(source) or {}
    fps = hw.get("fps") or {}
    failure = record.failure or {}
    return {
        "sweep": sweep,
        "digest": record.digest,
        "status": record.status.value,
        "labels": json.dumps(record.labels),
        "board": hw.get("board") or (config.get("compile") or {}).get("board") or "",
        "bits": (report.get("train") or {}).get("bits") or "",
        "clean_accuracy": accs.get("clean"),
        "mixed_accuracy": accs.get(MIXED),
        "accuracy": json.dumps(accs),
        "lut": counts.get("lut"),
        "lut_source": source,
        "dsp": counts.get("dsp"),
        "bram18": counts.get("bram18"),
        "fps": fps.get("measured") if fps.get("measured") is not None else fps.get("estimated"),
        "latency_us": (hw.get("latency") or {}).get("us"),
        "failure_kind": failure.get("kind", ""),
        "failure": failure.get("message", ""),
        "run_dir": record.run_dir,
        "host": record.host,
        "started": record.started or "",
        "finished": record.finished or "",
        "seconds": record.seconds,
        "attempts": record.attempts,
        "config": json.dumps(config, default=str),
    }
