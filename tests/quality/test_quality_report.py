import json

import pytest
import torch
from PIL import Image

from codesign.errors import ConfigError
from codesign.quality import FEATURE_NAMES, Corruption, quality_features
from codesign.quality.report import (
    feature_table,
    parse_corruption_list,
    parse_severity_list,
    quality_report,
    render_grid,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,3,5", (1, 3, 5)), ("2-4", (2, 3, 4)), ("5, 1-2,2", (1, 2, 5)), ("3", (3,))],
)
def test_parse_severity_list(text, expected):
    assert parse_severity_list(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1;2", "severities must look like '1,3,5' or '2-4' (each in 1..5), got '1;2'"),
        ("", "severities must look like '1,3,5' or '2-4' (each in 1..5), got ''"),
        ("4-2", "severity range '4-2' runs backwards; write it as '2-4'"),
        ("1-7", "corruption severity must be an integer in 1..5, got 6"),
    ],
)
def test_bad_severity_lists(text, message):
    with pytest.raises(ConfigError) as err:
        parse_severity_list(text)
    assert str(err.value) == message


def test_parse_corruption_list():
    assert parse_corruption_list([]) == tuple(Corruption)
    assert parse_corruption_list(["all", "contrast"]) == tuple(Corruption)
    assert parse_corruption_list(["pixelate", "shot_noise"]) == (
        Corruption.SHOT_NOISE,
        Corruption.PIXELATE,
    )
    with pytest.raises(ConfigError, match="unknown corruption 'fog'; allowed: gaussian_noise"):
        parse_corruption_list(["fog"])


def test_feature_table_rows_are_means_of_the_features(fmnist_images):
    x = fmnist_images[:32]
    rows = feature_table(x, [Corruption.CONTRAST, Corruption.PIXELATE], (1, 4), seed=0)
    assert [(r.condition, r.severity) for r in rows] == [
        ("clean", 0),
        ("contrast", 1),
        ("contrast", 4),
        ("pixelate", 1),
        ("pixelate", 4),
    ]
    assert all(len(r.means) == len(FEATURE_NAMES) for r in rows)
    clean = quality_features(x).mean(dim=0)
    assert torch.allclose(torch.tensor(rows[0].means), clean, atol=1e-5)
    contrast = FEATURE_NAMES.index("rms_contrast")
    assert rows[0].means[contrast] > rows[1].means[contrast] > rows[2].means[contrast]


def test_render_grid_writes_a_png_of_the_expected_layout(tmp_path, fmnist_images):
    path = render_grid(fmnist_images[:2], tmp_path / "g.png", [Corruption.BRIGHTNESS], (1, 5))
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        width, height = img.size
    assert width > 2 * height  # one row of 2 x (clean + 2 severities) panels
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no leftovers


def test_quality_report_on_digits(tmp_path):
    from codesign.data import load_dataset
    from codesign.errors import DatasetMissingError

    try:
        load_dataset("digits", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    report = quality_report(
        tmp_path / "d.png",
        dataset="digits",
        num_images=5000,  # more than the 360 test images: all of them are used
        grid_images=2,
        severities=(2,),
        corruptions=(Corruption.GAUSSIAN_NOISE, Corruption.JPEG_COMPRESSION),
        json_path=tmp_path / "d.json",
    )
    assert report.num_images == 360
    assert report.grid_path.is_file()
    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["feature_names"] == list(FEATURE_NAMES)
    assert [(r["condition"], r["severity"]) for r in saved["rows"]] == [
        ("clean", 0),
        ("gaussian_noise", 2),
        ("jpeg_compression", 2),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_images": 0}, "number of images must be at least 1, got 0"),
        ({"grid_images": 0}, "number of grid images must be at least 1, got 0"),
    ],
)
def test_quality_report_rejects_bad_counts(tmp_path, kwargs, message):
    with pytest.raises(ConfigError) as err:
        quality_report(tmp_path / "x.png", dataset="digits", **kwargs)
    assert str(err.value) == message
