import json
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from codesign.cli.main import cli, main


def test_quality_cli_end_to_end(tmp_path, fmnist_images):
    out, table = tmp_path / "grid.png", tmp_path / "table.json"
    args = ["quality", "-n", "16", "--grid-images", "2", "--severities", "1,5"]
    args += ["--seed", "3", "-o", str(out), "--json", str(table)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        assert img.size[1] > img.size[0] > 600  # 10 corruption rows, 2 x 3 panel columns
    text = result.output
    assert "mean quality features over 16 fashion_mnist test images (seed 3)" in text
    for header in ("condition", "noise", "sharp", "block", "contrast", "bright", "hf"):
        assert header in text
    assert "jpeg_compression" in text and "pixelate" in text
    assert f"grid: {out}" in text.replace("\n", "")
    rows = json.loads(table.read_text())["rows"]
    assert len(rows) == 1 + 10 * 2  # clean + every corruption at severities 1 and 5


def test_quality_cli_subset_of_corruptions(tmp_path, fmnist_images):
    out = tmp_path / "g.png"
    args = ["quality", "-n", "8", "--grid-images", "1", "--corruption", "contrast"]
    result = CliRunner().invoke(cli, [*args, "--severities", "2-3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "contrast" in result.output and "gaussian_noise" not in result.output
    assert out.is_file()


def test_quality_cli_rejects_unknown_corruption(tmp_path):
    result = CliRunner().invoke(cli, ["quality", "--corruption", "fog", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "'fog' is not one of 'all', 'gaussian_noise'" in result.output


def test_quality_cli_shows_a_bad_severity_in_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "x.png"
    monkeypatch.setattr(sys, "argv", ["codesign", "quality", "--severities", "0,2", "-o", str(out)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "error: corruption severity must be an integer in 1..5, got 0" in err
    assert "Traceback" not in err
    assert not out.exists()
