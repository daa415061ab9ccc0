"""Calibrations: fitted coefficients of the analytic model, one per (family, tool, version).

A calibration is a JSON data file in the package (``codesign/cost/calibrations/``) or any
folder: the fitted LUT/FF coefficients per node kind and feature, the LUTRAM/BRAM
threshold, the design-level stitching overhead, its provenance (tool and version, board,
part, clock, codesign version and commit, number of points, date) and its held-out error
table. :func:`load_cost_model` picks the best one for a family: Vivado-measured ones take
precedence over Yosys ones, then the newest tool version; without any, the uncalibrated
analytic model.

Example:
    >>> model = load_cost_model("xc7")
    >>> model.version.startswith(("analytic", "xc7"))
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from codesign.cost.analytic import DEFAULT_COEFS, AnalyticCostModel
from codesign.errors import ConfigError
from codesign.io import atomic_write_json
from codesign.resources import Resources

log = logging.getLogger(__name__)

__all__ = [
    "TOOL_PRECEDENCE",
    "Calibration",
    "available_calibrations",
    "load_calibration",
    "load_cost_model",
]

#: Higher wins when several calibrations exist for one family.
TOOL_PRECEDENCE = {"vivado": 2, "yosys": 1}
_PACKAGE = "codesign.cost.calibrations"


@dataclass(frozen=True)
class Calibration:
    """Fitted coefficients of :class:`AnalyticCostModel` and where they come from.

    Attributes:
        family: Device family (``xc7``, ``xcup``...).
        tool: ``yosys`` or ``vivado``.
        tool_version: The tool's version line.
        coefs: ``kind -> feature -> (lut, ff)`` coefficients.
        lutram_max_bits: The fitted LUTRAM/BRAM threshold.
        overhead: ``(const, per_node)`` design-level stitching overhead.
        in_design: Per kind key (``*`` for the rest): the (LUT, FF) share of a node's
            stand-alone cost that a whole design saves by optimizing across its boundaries
            (negative; see :class:`AnalyticCostModel`).
        provenance: Board, part, clock, codesign version/commit, points, date...
        errors: The held-out error table rows.
        revision: Feedback round that produced it (0: a ``codesign calibrate`` fit).
    """

    family: str
    tool: str
    tool_version: str
    coefs: Mapping[str, Mapping[str, tuple[float, float]]]
    lutram_max_bits: float = 4096.0
    overhead: tuple[Resources, Resources] = (Resources(), Resources())
    in_design: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[Mapping[str, Any], ...] = ()
    revision: int = 0

    @property
    def name(self) -> str:
        """``<family>-<tool>-<short version>[-r<revision>]``: the name it is loaded by."""
        base = f"{self.family}-{self.tool}-{_short(self.tool_version)}"
        return f"{base}-r{self.revision}" if self.revision else base

    def model(self) -> AnalyticCostModel:
        """The cost model with these coefficients."""
        coefs = {k: dict(v) for k, v in DEFAULT_COEFS.items()}
        for kind, table in self.coefs.items():
            coefs[kind] = {f: (float(c[0]), float(c[1])) for f, c in table.items()}
        return AnalyticCostModel(
            family=self.family,
            coefs=coefs,
            lutram_max_bits=self.lutram_max_bits,
            overhead=self.overhead,
            in_design=dict(self.in_design),
            version=f"{self.name}@{self.digest()}",
        )

    def digest(self) -> str:
        """8 hex digits of the fitted numbers: a refit under the same name gets a new one.

        Prices depend on the coefficients, the LUTRAM limit, the stitching overhead and the
        in-design shares only, so provenance and error tables do not enter it. The cost
        model's ``version`` is ``<name>@<digest>``, so what was priced or trained with an
        earlier fit of the same name (a DQMQ checkpoint, a search report) is told apart.
        """
        data = self.to_dict()
        fitted = {k: data[k] for k in ("coefs", "lutram_max_bits", "overhead", "in_design")}
        blob = json.dumps(fitted, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:8]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "family": self.family,
            "tool": self.tool,
            "tool_version": self.tool_version,
            "coefs": {k: {f: list(c) for f, c in v.items()} for k, v in self.coefs.items()},
            "lutram_max_bits": self.lutram_max_bits,
            "overhead": {
                "const": self.overhead[0].to_dict(),
                "per_node": self.overhead[1].to_dict(),
            },
            "in_design": {k: list(v) for k, v in self.in_design.items()},
            "provenance": dict(self.provenance),
            "errors": [dict(e) for e in self.errors],
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Parse :meth:`to_dict`'s output.

        Raises:
            ConfigError: A key is missing or malformed.
        """
        try:
            return cls(
                family=str(data["family"]),
                tool=str(data["tool"]),
                tool_version=str(data["tool_version"]),
                coefs={
                    k: {f: (float(c[0]), float(c[1])) for f, c in v.items()}
                    for k, v in data["coefs"].items()
                },
                lutram_max_bits=float(data.get("lutram_max_bits", 4096.0)),
                overhead=(
                    Resources(**data.get("overhead", {}).get("const", {})),
                    Resources(**data.get("overhead", {}).get("per_node", {})),
                ),
                in_design={
                    k: (float(v[0]), float(v[1])) for k, v in data.get("in_design", {}).items()
                },
                provenance=dict(data.get("provenance", {})),
                errors=tuple(data.get("errors", ())),
                revision=int(data.get("revision", 0)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ConfigError(f"not a codesign calibration ({type(err).__name__}: {err})") from None

    def save(self, path: Path) -> Path:
        """Write the JSON file atomically; returns the path."""
        atomic_write_json(Path(path), self.to_dict())
        return Path(path)


def _short(version: str) -> str:
    """``Yosys 0.70 (git sha1 ...)`` -> ``0.70``, ``Vivado v2024.2`` -> ``2024.2``."""
    for word in version.replace("+", " ").split():
        word = word.removeprefix("v")
        if word[:1].isdigit():
            return word.rstrip(",")
    return version.strip().replace(" ", "_") or "unknown"


def _files(folder: Path | None) -> list[tuple[str, str]]:
    """(name, JSON text) of every calibration file in ``folder`` or the package."""
    out = []
    if folder is not None:
        for path in sorted(Path(folder).glob("*.json")):
            out.append((path.stem, path.read_text()))
        return out
    try:
        root = resources.files(_PACKAGE)
    except ModuleNotFoundError:
        return out
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out.append((entry.name[:-5], entry.read_text()))
    return out


def available_calibrations(folder: Path | None = None) -> list[Calibration]:
    """Every calibration in ``folder`` (default: the package's), unreadable ones skipped."""
    out = []
    for name, text in _files(folder):
        try:
            out.append(Calibration.from_dict(json.loads(text)))
        except (ValueError, ConfigError) as err:
            log.warning("skipping calibration %s: %s", name, err)
    return out


def load_calibration(name: str, folder: Path | None = None) -> Calibration:
    """The calibration called ``name`` (``xc7-yosys-0.70``), or a file path.

    ``name`` may also be a cost model's version (``xc7-yosys-0.70@adfa1c0b``): then the
    calibration of that name must still hold that fit.

    Raises:
        ConfigError: No such calibration (the message lists the available ones), or the
            named one has been refit since that version.
    """
    name, _, digest = name.partition("@")
    if digest:
        cal = load_calibration(name, folder)
        if cal.digest() != digest:
            raise ConfigError(
                f"calibration {name} now holds fit {cal.digest()}, not {digest}: "
                "it was refit since; use its current version or the earlier file"
            )
        return cal
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        try:
            return Calibration.from_dict(json.loads(path.read_text()))
        except ValueError as err:
            raise ConfigError(f"{path} is not valid JSON ({err})") from None
    found = available_calibrations(folder)
    for cal in found:
        if cal.name == name:
            return cal
    names = ", ".join(c.name for c in found) or "none"
    raise ConfigError(f"no calibration named {name!r}; available: {names}")


def load_cost_model(
    family: str,
    *,
    name: str | None = None,
    tool: str | None = None,
    folder: Path | None = None,
) -> AnalyticCostModel:
    """The best cost model for ``family``: a named calibration, else the best available.

    Vivado calibrations take precedence over Yosys ones (``tool`` restricts the choice);
    among equals, the highest tool version. Without any, the uncalibrated analytic model
    (version ``analytic-0``).

    Raises:
        ConfigError: ``name`` is given and unknown.
    """
    if name is not None:
        return load_calibration(name, folder).model()
    cals = [
        c
        for c in available_calibrations(folder)
        if c.family == str(family) and (tool is None or c.tool == tool)
    ]
    if not cals:
        return AnalyticCostModel(family=str(family))
    best = max(cals, key=lambda c: (TOOL_PRECEDENCE.get(c.tool, 0), _version_key(c.tool_version)))
    return best.model()


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in _short(version).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
