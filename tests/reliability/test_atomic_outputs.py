"""Every output is written whole or not at all, run as users run it (``python -m siamreid``).

Killed with SIGKILL while ``siamreid export`` writes onto a good ``.onnx``, or short of disk
(``ulimit -f``) in ``export`` and ``embed --out``, the old file stays byte-identical and the
error is one line naming it. (Outputs that cannot be written at all: tests/cli/test_outputs.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_helpers import one_line_error

from siamreid import SiameseEmbedder
from siamreid.export import to_onnx
from siamreid.models import load_pretrained
from siamreid.models.serialization import save_pretrained

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

SIZE = (64, 32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = SiameseEmbedder("test_resnet", 8, pretrained=False, input_size=SIZE)
    return save_pretrained(model, tmp_path_factory.mktemp("atomic-model") / "model")


@pytest.fixture(scope="module")
def good_onnx(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good exported file (the TorchScript exporter: the faster one)."""
    out = tmp_path_factory.mktemp("good") / "reid.onnx"
    return to_onnx(load_pretrained(model_dir), out, exporter="torchscript")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    folder = tmp_path_factory.mktemp("atomic-images") / "people"
    folder.mkdir()
    for image in sorted((synthetic_root / "query").glob("*.jpg"))[:12]:
        shutil.copy(image, folder / image.name)
    return folder


def _command(*args: object) -> list[str]:
    return [sys.executable, "-m", "siamreid", *(str(a) for a in args)]


def _limited(blocks: int, *args: object) -> subprocess.CompletedProcess[str]:
    """``siamreid ARGS`` under ``ulimit -f BLOCKS`` (1024-byte blocks): a nearly full disk."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    script = f'ulimit -f {blocks} && exec "$@"'
    return subprocess.run(
        ["bash", "-c", script, "bash", *_command(*args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def _temporaries(folder: Path, name: str) -> list[Path]:
    """The atomic writer's temporary files of ``name`` (not the writability probe)."""
    return [
        p
        for p in folder.glob(f".{name}.tmp-*")
        if "probe" not in p.name and p.name.endswith(Path(name).suffix)
    ]


def _kill_while_writing(args: list[str], target: Path) -> str:
    """Start ``args``; SIGKILL it as soon as a temporary file of ``target`` appears, or the
    moment ``target`` itself changes (a writer that is not atomic). Returns what was seen."""
    before = target.stat()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    seen = "nothing"
    deadline = time.monotonic() + 600
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if _temporaries(target.parent, target.name):
                seen = "temporary"
                break
            now = target.stat()
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                before.st_ino,
                before.st_size,
                before.st_mtime_ns,
            ):
                seen = "target changed"
                break
            time.sleep(0.001)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return seen


def test_sigkill_while_exporting_onto_a_good_file_keeps_it(
    tmp_path: Path, model_dir: Path, good_onnx: Path
) -> None:
    target = tmp_path / "reid.onnx"
    shutil.copy(good_onnx, target)
    old = target.read_bytes()
    args = _command("export", "--checkpoint", model_dir, "--out", target, "--opset", "17")
    seen = _kill_while_writing([*args, "--exporter", "torchscript"], target)
    assert target.read_bytes() == old, f"killed after: {seen}"
    assert seen == "temporary", "the export finished before a temporary file was seen"
    onnx.checker.check_model(onnx.load(str(target)))


def test_export_out_of_disk_space_keeps_the_good_file(
    tmp_path: Path, model_dir: Path, good_onnx: Path
) -> None:
    target = tmp_path / "reid.onnx"
    shutil.copy(good_onnx, target)
    old = target.read_bytes()
    blocks = len(old) // 1024 // 2  # half of what the new file needs
    proc = _limited(
        blocks, "export", "--checkpoint", model_dir, "--out", target, "--exporter", "torchscript"
    )
    line = one_line_error(proc)
    assert str(target) in line
    assert "unchanged" in line
    assert target.read_bytes() == old
    assert not _temporaries(tmp_path, target.name)


def test_embed_out_of_disk_space_keeps_the_old_npz(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    target = tmp_path / "gallery.npz"
    old_paths = np.array(["kept.jpg"])
    np.savez(target, paths=old_paths, embeddings=np.ones((1, 8), dtype=np.float32))
    old = target.read_bytes()
    proc = _limited(
        1, "embed", "--checkpoint", model_dir, images, "--out", target, "--workers", "0"
    )
    line = one_line_error(proc)
    assert str(target) in line
    assert target.read_bytes() == old
    with np.load(target) as saved:
        assert saved["paths"].tolist() == ["kept.jpg"]
