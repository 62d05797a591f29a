"""An output option that cannot be written fails at once, naming it, before any work is done.

Each case would otherwise fail late: the image folders hold an undecodable image, so a command
that embedded first would stop on it (and name it) instead of on the output.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cli_runner import Result, Runner


@pytest.fixture
def broken_images(tmp_path: Path, synthetic_root: Path) -> Path:
    """Six query images and one undecodable one: embedding them fails, naming it."""
    folder = tmp_path / "people"
    folder.mkdir()
    for image in sorted((synthetic_root / "query").glob("*.jpg"))[:6]:
        shutil.copy(image, folder / image.name)
    (folder / "0001_c1s1_000001_01.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def _error(result: Result) -> str:
    """The one line of a failed command."""
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    return lines[0]


def test_embed_out_a_folder_fails_before_embedding(
    cli: Runner, checkpoint: Path, broken_images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.npz"
    out.mkdir()
    line = _error(cli("embed", "--checkpoint", checkpoint, broken_images, "--out", out))
    assert f"--out {str(out)!r} is a folder" in line  # not the broken image: nothing embedded


def test_embed_out_below_a_file_fails_before_embedding(
    cli: Runner, checkpoint: Path, broken_images: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    line = _error(
        cli("embed", "--checkpoint", checkpoint, broken_images, "--out", blocker / "e.npz")
    )
    assert f"{str(blocker)!r} is a file, not a folder" in line


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in: read-only for a user; for root, who writes
    anywhere on disk, procfs's ``/proc/self``."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not Path("/proc/self").is_dir():
            pytest.skip("root writes anywhere, and there is no /proc here")
        return Path("/proc/self")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked


def test_embed_into_a_read_only_folder_fails_before_embedding(
    cli: Runner, checkpoint: Path, broken_images: Path, tmp_path: Path
) -> None:
    locked = _unwritable_folder(tmp_path)
    try:
        out = locked / "e.npz"
        line = _error(cli("embed", "--checkpoint", checkpoint, broken_images, "--out", out))
    finally:
        if locked.is_relative_to(tmp_path):
            locked.chmod(0o700)
    assert f"--out {str(out)!r} cannot be written" in line


def test_search_plot_a_folder_fails_before_embedding(
    cli: Runner, checkpoint: Path, broken_images: Path, gallery: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    assert cli("index", "build", "--checkpoint", checkpoint, gallery, "--out", index).code == 0
    plot = tmp_path / "ranked.png"
    plot.mkdir()
    line = _error(cli("search", "--index", index, broken_images, "--plot", plot))
    assert f"--plot {str(plot)!r} is a folder" in line


def test_index_out_a_file_fails_before_embedding(
    cli: Runner, checkpoint: Path, broken_images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "index"
    out.write_text("a file", encoding="utf-8")
    line = _error(cli("index", "build", "--checkpoint", checkpoint, broken_images, "--out", out))
    assert f"--out {str(out)!r} is a file, not a folder" in line
    assert out.read_text(encoding="utf-8") == "a file"


def test_evaluate_json_a_folder_fails_before_any_work(
    cli: Runner, synthetic_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "metrics.json"
    out.mkdir()
    result = cli(
        "evaluate",
        "--checkpoint",
        tmp_path / "no-such-model",  # loading it would fail: the check comes first
        "--dataset",
        "market1501",
        "--root",
        synthetic_root,
        "--json",
        out,
    )
    assert f"--json {str(out)!r} is a folder" in _error(result)


def test_export_onnx_a_folder_fails_before_loading(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "reid.onnx"
    out.mkdir()
    line = _error(cli("export", "--checkpoint", tmp_path / "no-such-model", "--out", out))
    assert f"--out {str(out)!r} is a folder" in line


def test_export_onto_a_device_is_refused(cli: Runner, tmp_path: Path) -> None:
    # the atomic rename would replace the device node itself
    line = _error(cli("export", "--checkpoint", tmp_path / "no-such-model", "--out", os.devnull))
    assert "is not a regular file" in line
    assert Path(os.devnull).is_char_device()
