"""``codesign quality``: a grid PNG of every corruption and a table of mean quality features."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from codesign.data import DatasetName
from codesign.quality.corruptions import Corruption
from codesign.quality.report import (
    QualityReport,
    parse_corruption_list,
    parse_severity_list,
    quality_report,
)
from codesign.runs import check_output_file


class _DatasetChoice(click.Choice):
    """The dataset names of flows and ``doctor`` (fashion_mnist); fashion-mnist works too."""

    def convert(  # noqa: D102
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> object:
        text = value.replace("-", "_") if isinstance(value, str) else value
        return super().convert(text, param, ctx)


_DATASETS = [n.value for n in DatasetName]


# Column headers short enough for an 80-column terminal.
_SHORT = {
    "noise_sigma": "noise",
    "sharpness": "sharp",
    "blockiness": "block",
    "rms_contrast": "contrast",
    "brightness": "bright",
    "hf_energy_ratio": "hf",
}


@click.command()
@click.option(
    "--dataset",
    type=_DatasetChoice(_DATASETS, case_sensitive=False),
    default="fashion_mnist",
    show_default=True,
    help="Dataset whose test images are corrupted.",
)
@click.option(
    "-n",
    "--num-images",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Images the feature table averages over.",
)
@click.option(
    "--grid-images",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Images shown in the grid.",
)
@click.option(
    "--severities",
    default="1,3,5",
    show_default=True,
    help="Severities to show, e.g. '1,3,5' or '1-5'.",
)
@click.option(
    "--corruption",
    "corruptions",
    multiple=True,
    type=click.Choice(["all", *(c.value for c in Corruption)]),
    help="Corruption to include (repeatable; default all).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Image choice and noise.")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("quality.png"),
    show_default=True,
    help="Grid PNG to write.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the feature table as JSON here.",
)
def quality(
    dataset: str,
    num_images: int,
    grid_images: int,
    severities: str,
    corruptions: tuple[str, ...],
    seed: int,
    out: Path,
    json_path: Path | None,
) -> None:
    """Corrupt test images at chosen severities: draw a grid and tabulate quality features."""
    t0 = time.perf_counter()
    check_output_file(out, "--out")  # before any work: nothing is written when one is bad
    if json_path is not None:
        check_output_file(json_path, "--json")
    report = quality_report(
        out=out,
        dataset=dataset.lower(),
        num_images=num_images,
        grid_images=grid_images,
        severities=parse_severity_list(severities),
        corruptions=parse_corruption_list(corruptions),
        seed=seed,
        json_path=json_path,
    )
    console = Console()
    console.print(_feature_table(report))
    console.print(f"grid: {report.grid_path}")
    if report.json_path is not None:
        console.print(f"table: {report.json_path}")
    console.print(f"({time.perf_counter() - t0:.1f} s)")


def _feature_table(report: QualityReport) -> Table:
    table = Table(
        title=f"mean quality features over {report.num_images} {report.dataset} test images "
        f"(seed {report.seed})",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("condition", no_wrap=True)
    table.add_column("sev", justify="right")
    for name in report.feature_names:
        table.add_column(_SHORT.get(name, name), justify="right", no_wrap=True)
    previous = None
    for row in report.rows:
        label = row.condition if row.condition != previous else ""
        previous = row.condition
        table.add_row(label, str(row.severity), *(f"{v:+.2f}" for v in row.means))
    table.caption = "normalized features (codesign.quality.measures): " + ", ".join(
        f"{_SHORT.get(n, n)}={n}" for n in report.feature_names if _SHORT.get(n, n) != n
    )
    return table
