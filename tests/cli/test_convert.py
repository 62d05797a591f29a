"""``siamreid convert``: a BoxMOT checkpoint becomes a siamreid model folder that embeds alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_runner import Runner

from siamreid.models import SiameseEmbedder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def boxmot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weights BoxMOT OSNet x0.25 checkpoint (BoxMOT's own model code)."""
    variants = pytest.importorskip("boxmot.reid.backbones.families.osnet.variants")
    torch.manual_seed(0)
    peer = variants.osnet_x0_25(num_classes=5, pretrained=False).eval()
    path = tmp_path_factory.mktemp("boxmot") / "osnet_x0_25_custom.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in peer.state_dict().items()}}, path)
    return path


def test_convert_writes_a_model_folder_that_embeds_as_the_checkpoint(
    boxmot_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "osnet"
    done = subprocess.run(
        [sys.executable, "-m", "siamreid", "convert", str(boxmot_file), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "osnet_x0_25, 512-d embeddings, 5 identities, input 256x128" in done.stdout
    record = json.loads((out / "config.json").read_text("utf-8"))
    assert record["backbone"] == "osnet_x0_25"
    assert record["interpolation"] == "bilinear"
    x = torch.rand(2, 3, 256, 128)
    direct, saved = (
        SiameseEmbedder.from_pretrained(boxmot_file),
        SiameseEmbedder.from_pretrained(out),
    )
    torch.testing.assert_close(saved.embed(x), direct.embed(x), rtol=0, atol=0)


def test_convert_refuses_a_file_that_fits_nothing(tmp_path: Path, cli: Runner) -> None:
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "odd.pth")
    result = cli("convert", tmp_path / "odd.pth", "--out", tmp_path / "out")
    assert result.code == 2
    assert "fits no architecture siamreid imports" in result.err
    assert "the closest is" in result.err
    assert not (tmp_path / "out").exists()


def test_convert_takes_arch(boxmot_file: Path, tmp_path: Path, cli: Runner) -> None:
    ok = cli("convert", boxmot_file, "--out", tmp_path / "a", "--arch", "osnet_x0_25")
    assert ok.code == 0, ok.err
    wrong = cli("convert", boxmot_file, "--out", tmp_path / "b", "--arch", "resnet50")
    assert wrong.code == 2
    assert "the closest is 'resnet50'" in wrong.err
