"""The results database: every compile, simulate, synth and build result, per design and layer.

SQLAlchemy 2 (any URL; SQLite ``RUNS/results.sqlite`` by default). Two tables hold the
measurements, with their provenance:

* ``designs``: one row per (stage, run folder, design digest, tool, tool version):
  ``stage`` is ``compile`` (FINN's estimate), ``simulate`` (Verilator cycles), ``synth``
  (Yosys) or ``build`` (Vivado); board, family, part, clock, tool and version, codesign
  version, timestamp, resources, cycles, FPS and the stage's extra figures as JSON.
* ``layers``: one row per node of a design row: name, op type, kind, layer digest (the
  node's synthesis plan digest, or the digest of its spec), the LayerSpec as JSON, PE/SIMD,
  bits, resources and cycles.

``calibration_points`` records which calibration points are stored (a point's design,
layers and point row are written in one transaction), and ``schema_version`` the schema's
number: :data:`MIGRATIONS` are plain numbered steps run in order inside a transaction.

Writes are transactional; on SQLite each write transaction starts with ``BEGIN
IMMEDIATE`` (WAL journal, busy timeout), so concurrent writers from several processes wait
for each other instead of failing or losing rows (tested with real processes).

Example:
    >>> db = ResultsDB("sqlite://")
    >>> db.query()
    []
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from codesign.errors import CodesignError, ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "DB_FILE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DesignRow",
    "LayerRow",
    "ResultsDB",
    "default_url",
    "record_run_folder",
]

DB_FILE = "results.sqlite"
_RESOURCES = ("lut", "ff", "bram18", "uram", "dsp", "lutram", "srl")
STAGES = ("compile", "simulate", "synth", "build")


class Base(DeclarativeBase):
    """Declarative base of the results tables."""


class DesignRow(Base):
    """One measured (or estimated) design."""

    __tablename__ = "designs"
    __table_args__ = (
        UniqueConstraint("stage", "run_dir", "design_digest", "tool", "tool_version", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(64), default="design")
    run_dir: Mapped[str] = mapped_column(Text, default="")
    point_key: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    design_digest: Mapped[str] = mapped_column(String(64), default="")
    board: Mapped[str] = mapped_column(String(64), default="", index=True)
    family: Mapped[str] = mapped_column(String(16), default="", index=True)
    part: Mapped[str] = mapped_column(String(64), default="")
    clock_ns: Mapped[float | None] = mapped_column(Float, nullable=True)
    tool: Mapped[str] = mapped_column(String(32), default="", index=True)
    tool_version: Mapped[str] = mapped_column(String(200), default="")
    codesign_version: Mapped[str] = mapped_column(String(32), default="")
    timestamp: Mapped[str] = mapped_column(String(32), default="")
    lut: Mapped[float | None] = mapped_column(Float, nullable=True)
    ff: Mapped[float | None] = mapped_column(Float, nullable=True)
    bram18: Mapped[float | None] = mapped_column(Float, nullable=True)
    uram: Mapped[float | None] = mapped_column(Float, nullable=True)
    dsp: Mapped[float | None] = mapped_column(Float, nullable=True)
    lutram: Mapped[float | None] = mapped_column(Float, nullable=True)
    srl: Mapped[float | None] = mapped_column(Float, nullable=True)
    cycles: Mapped[float | None] = mapped_column(Float, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    meta: Mapped[str] = mapped_column(Text, default="{}")

    layers: Mapped[list[LayerRow]] = relationship(
        back_populates="design", cascade="all, delete-orphan"
    )


class LayerRow(Base):
    """One node of a design row."""

    __tablename__ = "layers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("designs.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    op_type: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="", index=True)
    layer_digest: Mapped[str] = mapped_column(String(64), default="", index=True)
    spec: Mapped[str] = mapped_column(Text, default="{}")
    pe: Mapped[int | None] = mapped_column(Integer, nullable=True)
    simd: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight_bits: Mapped[int | None] = mapped_column(Integer, nullable=True)
    act_bits: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lut: Mapped[float | None] = mapped_column(Float, nullable=True)
    ff: Mapped[float | None] = mapped_column(Float, nullable=True)
    bram18: Mapped[float | None] = mapped_column(Float, nullable=True)
    uram: Mapped[float | None] = mapped_column(Float, nullable=True)
    dsp: Mapped[float | None] = mapped_column(Float, nullable=True)
    lutram: Mapped[float | None] = mapped_column(Float, nullable=True)
    srl: Mapped[float | None] = mapped_column(Float, nullable=True)
    cycles: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)

    design: Mapped[DesignRow] = relationship(back_populates="layers")


class PointRow(Base):
    """A stored calibration point (its design row holds the measurements)."""

    __tablename__ = "calibration_points"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="fit")
    design_id: Mapped[int] = mapped_column(ForeignKey("designs.id"))
    record: Mapped[str] = mapped_column(Text, default="{}")
    timestamp: Mapped[str] = mapped_column(String(32), default="")


def _v1(conn: Connection) -> None:
    Base.metadata.create_all(conn)


#: (version, what it does, step): run in order; the schema is at the last version.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "designs, layers, calibration_points", _v1),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def default_url(runs_dir: Path | None = None) -> str:
    """``sqlite:///RUNS/results.sqlite`` (``RUNS`` = ``runs`` in the working directory)."""
    folder = Path(runs_dir) if runs_dir is not None else Path("runs")
    return f"sqlite:///{(folder / DB_FILE).resolve()}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:  # noqa: ANN401
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 60000")
        cur.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class ResultsDB:
    """The results database at ``url`` (created and migrated on open).

    Args:
        url: Any SQLAlchemy URL; default :func:`default_url`.

    Raises:
        ConfigError: The URL is malformed or the database cannot be opened, or its schema
            is newer than this codesign.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        try:
            if self.url.startswith("sqlite:///") and self.url != "sqlite:///:memory:":
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine_kwargs: dict[str, Any] = {}
            if self.url.startswith("sqlite"):
                engine_kwargs["connect_args"] = {"timeout": 60}
            self.engine = create_engine(self.url, **engine_kwargs)
            if self.engine.dialect.name == "sqlite":
                _sqlite_setup(self.engine)
            self._migrate()
        except CodesignError:
            raise
        except Exception as err:  # noqa: BLE001 - drivers raise many types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"cannot open results database {self.url}: {first}") from None

    # -- schema ---------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            current = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
            current = int(current or 0)
            if current > SCHEMA_VERSION:
                raise ConfigError(
                    f"results database {self.url} has schema version {current}, newer than "
                    f"this codesign's {SCHEMA_VERSION}: upgrade codesign"
                )
            for version, what, step in MIGRATIONS:
                if version > current:
                    log.info("results database: migration %d (%s)", version, what)
                    step(conn)
                    conn.execute(text("INSERT INTO schema_version VALUES (:v)"), {"v": version})

    @property
    def schema_version(self) -> int:
        """The database's schema version."""
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar())

    def tables(self) -> list[str]:
        """Table names (for checks)."""
        return sorted(inspect(self.engine).get_table_names())

    # -- writes ---------------------------------------------------------------------------
    def add_design(
        self, design: dict[str, Any], layers: Sequence[dict[str, Any]] = ()
    ) -> int | None:
        """Store one design row with its layers in one transaction.

        Returns the new row's id, or None when an identical row (same stage, run folder,
        design digest, tool, tool version and name) is already stored.
        """
        try:
            with Session(self.engine) as session, session.begin():
                row = _design_row(design)
                row.layers = [_layer_row(x) for x in layers]
                session.add(row)
                session.flush()
                return int(row.id)
        except IntegrityError:
            return None

    def has_point(self, key: str) -> bool:
        """Whether calibration point ``key`` is stored."""
        with Session(self.engine) as session:
            return session.get(PointRow, key) is not None

    def record_point(self, record: dict[str, Any]) -> bool:
        """Store a calibration point record (:func:`codesign.flow.calibrate.measure_point`).

        The per-layer Yosys results, the whole design (if synthesized) and the point row go
        in one transaction. Returns False when the point was already stored.
        """
        try:
            with Session(self.engine) as session, session.begin():
                if session.get(PointRow, record["key"]) is not None:
                    return False
                common = _point_common(record)
                nodes = [n for n in record["nodes"] if n.get("measured") is not None]
                layer_rows = [_layer_row(_point_layer(n)) for n in nodes]
                total = {k: sum((n["measured"].get(k) or 0) for n in nodes) for k in _RESOURCES}
                layer_design = _design_row(
                    {
                        **common,
                        "name": "layers",
                        "design_digest": record["key"],
                        **total,
                        "cycles": max((n["cycles"] for n in record["nodes"]), default=None),
                    }
                )
                layer_design.layers = layer_rows
                session.add(layer_design)
                if record.get("whole"):
                    whole = record["whole"]
                    session.add(
                        _design_row(
                            {
                                **common,
                                "name": "design",
                                "design_digest": whole["design_digest"],
                                **whole["resources"],
                                "seconds": whole.get("seconds"),
                                "cycles": layer_design.cycles,
                            }
                        )
                    )
                session.flush()
                session.add(
                    PointRow(
                        key=record["key"],
                        role=record["point"].get("role", "fit"),
                        design_id=layer_design.id,
                        record=json.dumps(record),
                        timestamp=record.get("timestamp", _now()),
                    )
                )
            return True
        except IntegrityError:
            return False

    def points(self, role: str | None = None) -> list[dict[str, Any]]:
        """Stored calibration point records (optionally of one role), in storage order."""
        with Session(self.engine) as session:
            stmt = select(PointRow).order_by(PointRow.timestamp, PointRow.key)
            if role is not None:
                stmt = stmt.where(PointRow.role == role)
            return [json.loads(p.record) for p in session.scalars(stmt)]

    def record_run_folder(self, path: Path) -> list[int]:
        """Import a compile run folder (or a flow run folder holding ``compile/``).

        Records FINN's estimate (``estimates.json``), every Verilator result
        (``sim/*.json``), the Yosys results (``synth/*.json``) and Vivado measurements
        (``build/*/measurements.json``) found in it. Rows already stored are skipped.

        Returns:
            The ids of the new design rows.

        Raises:
            ConfigError: ``path`` is not a run folder.
        """
        from codesign.cost.db_import import import_run_folder

        return [i for i in import_run_folder(self, Path(path)) if i is not None]

    # -- reads ----------------------------------------------------------------------------
    def query(
        self,
        *,
        level: str = "design",
        stage: str | None = None,
        board: str | None = None,
        family: str | None = None,
        tool: str | None = None,
        kind: str | None = None,
        run_dir: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored rows as dicts, filtered; ``level`` is ``design`` or ``layer``.

        Raises:
            ConfigError: Unknown level.
        """
        if level not in ("design", "layer"):
            raise ConfigError(f"level must be 'design' or 'layer', got {level!r}")
        with Session(self.engine) as session:
            if level == "design":
                stmt = select(DesignRow)
            else:
                stmt = select(LayerRow, DesignRow).join(DesignRow)
                if kind is not None:
                    stmt = stmt.where(LayerRow.kind == kind)
            for col, value in (
                (DesignRow.stage, stage),
                (DesignRow.board, board),
                (DesignRow.family, family),
                (DesignRow.tool, tool),
                (DesignRow.run_dir, run_dir),
            ):
                if value is not None:
                    stmt = stmt.where(func.lower(col) == value.lower())
            stmt = stmt.order_by(DesignRow.id)
            if limit is not None:
                stmt = stmt.limit(limit)
            if level == "design":
                return [_design_dict(r) for r in session.scalars(stmt)]
            return [_layer_dict(lr, dr) for lr, dr in session.execute(stmt)]

    def count(self, level: str = "design") -> int:
        """Number of stored design (or layer) rows."""
        table = DesignRow if level == "design" else LayerRow
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)


# -- row helpers --------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _design_row(d: dict[str, Any]) -> DesignRow:
    meta = d.get("meta", {})
    return DesignRow(
        stage=d["stage"],
        name=d.get("name", "design"),
        run_dir=str(d.get("run_dir", "")),
        point_key=d.get("point_key"),
        design_digest=str(d.get("design_digest", "")),
        board=str(d.get("board", "")),
        family=str(d.get("family", "")),
        part=str(d.get("part", "")),
        clock_ns=d.get("clock_ns"),
        tool=str(d.get("tool", "")),
        tool_version=str(d.get("tool_version", "")),
        codesign_version=str(d.get("codesign_version") or _codesign_version()),
        timestamp=str(d.get("timestamp") or _now()),
        cycles=d.get("cycles"),
        fps=d.get("fps"),
        seconds=d.get("seconds"),
        meta=json.dumps(meta),
        **{k: d.get(k) for k in _RESOURCES},
    )


def _layer_row(d: dict[str, Any]) -> LayerRow:
    spec = d.get("spec") or {}
    weight, act = spec.get("weight"), spec.get("act_out") or spec.get("act_in")
    digest = d.get("layer_digest") or (
        hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest() if spec else ""
    )
    return LayerRow(
        name=d["name"],
        op_type=d.get("op_type", ""),
        kind=d.get("kind") or spec.get("kind", ""),
        layer_digest=digest,
        spec=json.dumps(spec),
        pe=spec.get("pe", d.get("pe")),
        simd=spec.get("simd", d.get("simd")),
        weight_bits=weight[0] if weight else None,
        act_bits=act[0] if act else None,
        cycles=d.get("cycles"),
        seconds=d.get("seconds"),
        **{k: (d.get("resources") or {}).get(k) for k in _RESOURCES},
    )


def _design_dict(r: DesignRow) -> dict[str, Any]:
    out = {c.key: getattr(r, c.key) for c in DesignRow.__table__.columns}
    out["meta"] = json.loads(r.meta or "{}")
    return out


def _layer_dict(lr: LayerRow, dr: DesignRow) -> dict[str, Any]:
    out = {c.key: getattr(lr, c.key) for c in LayerRow.__table__.columns}
    out["spec"] = json.loads(lr.spec or "{}")
    for key in (
        "stage",
        "board",
        "family",
        "part",
        "clock_ns",
        "tool",
        "tool_version",
        "run_dir",
        "codesign_version",
        "timestamp",
    ):
        out[key] = getattr(dr, key)
    out["design_name"] = dr.name
    return out


def _codesign_version() -> str:
    import codesign

    return codesign.__version__


def _point_common(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "synth",
        "run_dir": record.get("run_dir", ""),
        "point_key": record["key"],
        "board": record.get("board", ""),
        "family": record.get("family", ""),
        "part": record.get("part", ""),
        "clock_ns": record.get("clock_ns"),
        "tool": record.get("tool", "yosys"),
        "tool_version": record.get("tool_version", ""),
        "codesign_version": record.get("codesign_version", ""),
        "timestamp": record.get("timestamp", ""),
        "meta": {"point": record.get("point", {}), "source": "calibrate"},
    }


def _point_layer(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": node["name"],
        "op_type": node.get("op_type", ""),
        "spec": node["spec"],
        "layer_digest": node.get("design_digest", ""),
        "resources": node["measured"],
        "cycles": node.get("cycles"),
        "seconds": node.get("seconds"),
    }


def record_run_folder(path: Path, url: str | None = None) -> list[int]:
    """Import a run folder into the database at ``url`` (default :func:`default_url`)."""
    return ResultsDB(url).record_run_folder(path)


# -- export -------------------------------------------------------------------------------
def export_rows(rows: Iterable[dict[str, Any]], fmt: str) -> str:
    """CSV or JSON text of query rows (nested values as JSON in CSV cells).

    Raises:
        ConfigError: Unknown format.
    """
    rows = list(rows)
    if fmt == "json":
        return json.dumps(rows, indent=1, default=str)
    if fmt != "csv":
        raise ConfigError(f"export format must be csv or json, got {fmt!r}")
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()}
        )
    return buf.getvalue()
