"""Every CLI failure is one line and a non-zero exit; output and plots cannot be hijacked."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_helpers import one_line_error, siamreid

from siamreid import Retriever, SiameseEmbedder
from siamreid.cli.main import one_line
from siamreid.models.serialization import save_pretrained
from siamreid.training.checkpoint import save_checkpoint

SIZE = (64, 32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = SiameseEmbedder("test_resnet", 8, pretrained=False, input_size=SIZE)
    return save_pretrained(model, tmp_path_factory.mktemp("cli-model") / "model")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    folder = tmp_path_factory.mktemp("images") / "people"
    folder.mkdir()
    for image in sorted((synthetic_root / "query").glob("*.jpg"))[:6]:
        shutil.copy(image, folder / image.name)
    return folder


def test_an_error_inside_a_dataloader_worker_is_one_line(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    folder = Path(shutil.copytree(images, tmp_path / "with-a-broken-one"))
    broken = folder / "0001_c1s1_000001_01.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    line = one_line_error(
        siamreid(
            "embed",
            "--checkpoint",
            model_dir,
            folder,
            "--out",
            tmp_path / "e.npz",
            "--workers",
            "2",
        )
    )
    assert str(broken) in line
    assert "Original Traceback" not in line


def test_an_unknown_device_is_one_line_naming_the_option(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    line = one_line_error(
        siamreid(
            "embed",
            "--checkpoint",
            model_dir,
            images,
            "--out",
            tmp_path / "e.npz",
            "--device",
            "quantum",
        )
    )
    assert "--device is 'quantum'" in line


def test_a_weights_file_that_is_not_safetensors_is_one_line(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    fake = Path(shutil.copytree(model_dir, tmp_path / "fake"))
    config = json.loads((fake / "config.json").read_text())
    config.pop("weights_sha256")  # as if written before checksums, to reach the parser
    (fake / "config.json").write_text(json.dumps(config))
    (fake / "model.safetensors").write_bytes(b"PK\x03\x04 a zip from torch.save")
    line = one_line_error(
        siamreid("embed", "--checkpoint", fake, images, "--out", tmp_path / "e.npz")
    )
    assert "not a safetensors weights file" in line


def test_a_malformed_names_file_is_one_line(tmp_path: Path, model_dir: Path, images: Path) -> None:
    index = tmp_path / "index"
    Retriever(names={1: "alice"}).save(index)
    version = json.loads((index / "meta.json").read_text())["version"]
    (index / version / "names.json").write_text("[not, a, mapping")
    line = one_line_error(siamreid("search", "--index", index, images, "--checkpoint", model_dir))
    assert "names.json" in line


def test_names_and_paths_with_control_characters_are_printed_escaped(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    index = tmp_path / "index"
    model = SiameseEmbedder.from_pretrained(model_dir)
    retriever = Retriever(model, names={7: "eve\x1b[2J\x1b[31m"})
    retriever.add(torch.randn(2, 8), ids=[7, 7], paths=["a\rb.jpg", "c\x07.jpg"])
    retriever.save(index)
    proc = siamreid("search", "--index", index, images, "--k", "2")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    assert "\r" not in proc.stdout
    assert "\x07" not in proc.stdout
    assert "eve\\x1b[2J\\x1b[31m" in proc.stdout


def test_plot_opens_only_regular_files(tmp_path: Path, model_dir: Path, images: Path) -> None:
    index = tmp_path / "index"
    model = SiameseEmbedder.from_pretrained(model_dir)
    retriever = Retriever(model)
    retriever.add(torch.randn(1, 8), ids=[1], paths=["/dev/zero"])
    retriever.save(index)
    plot = tmp_path / "p.png"
    args = ("search", "--index", index, images, "--k", "1", "--plot", plot)
    line = one_line_error(siamreid(*args, "--allow-outside-paths"))  # else it is not even looked at
    assert "'/dev/zero'" in line
    assert "not a readable regular file" in line


@pytest.mark.slow
def test_an_index_moved_with_its_images_still_plots(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(images, project / "gallery")
    built = siamreid(
        "index",
        "build",
        "--checkpoint",
        model_dir,
        project / "gallery",
        "--out",
        project / "index",
    )
    assert built.returncode == 0, built.stderr
    moved = Path(shutil.move(project, tmp_path / "elsewhere"))
    plot = tmp_path / "ranked.png"
    proc = siamreid(
        "search",
        "--index",
        moved / "index",
        moved / "gallery",
        "--k",
        "2",
        "--plot",
        plot,
        "--plot-queries",
        "2",
        "--allow-outside-paths",  # the images lie beside the index, not in it
    )
    assert proc.returncode == 0, proc.stderr
    assert "not opened" not in proc.stdout
    assert plot.stat().st_size > 0


def test_one_line_keeps_the_original_error_of_a_worker() -> None:
    message = (
        "Caught ImageLoadError in DataLoader worker process 1.\nOriginal Traceback (most recent "
        'call last):\n  File "x.py", line 3, in f\n    raise\n'
        "siamreid.errors.ImageLoadError: Cannot read image 'a.jpg': truncated."
    )
    assert one_line(RuntimeError(message)) == (
        "Cannot read image 'a.jpg': truncated. (raised while loading data)"
    )
    assert one_line(KeyError("k")).startswith("KeyError: 'k' (run with --debug")


def test_saved_files_follow_the_umask(tmp_path: Path, model_dir: Path) -> None:
    old = os.umask(0o027)
    try:
        model = SiameseEmbedder.from_pretrained(model_dir)
        saved = save_pretrained(model, tmp_path / "m")
        index = Retriever(model, names={1: "a"})
        index.add(torch.randn(2, 8), ids=[1, 1], paths=["a.jpg", "b.jpg"])
        index.save(tmp_path / "ix")
        checkpoint = save_checkpoint(
            tmp_path / "checkpoints",
            model_state=model.state_dict(),
            train_state={"step": 1},
            meta={"epoch": 1},
        )
    finally:
        os.umask(old)
    files = [saved / "model.safetensors", saved / "config.json", tmp_path / "ix" / "meta.json"]
    version = next((tmp_path / "ix").glob("v-*"))
    files += [p for p in version.rglob("*") if p.is_file()]
    files += [*checkpoint.iterdir(), tmp_path / "checkpoints" / "latest.json"]
    assert len(files) >= 12
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_on_bad_image_skip_leaves_the_unreadable_file_out(
    tmp_path: Path, model_dir: Path, images: Path
) -> None:
    folder = Path(shutil.copytree(images, tmp_path / "with-a-broken-one"))
    broken = sorted(folder.iterdir())[2]
    broken.write_bytes(b"\x89PNG truncated")
    out = tmp_path / "e.npz"
    proc = siamreid(
        "embed", "--checkpoint", model_dir, folder, "--out", out, "--on-bad-image", "skip"
    )
    assert proc.returncode == 0, proc.stderr
    assert f"skipping {broken}" in proc.stderr
    saved = np.load(out)
    assert len(saved["paths"]) == len(list(folder.iterdir())) - 1
    assert str(broken) not in saved["paths"].tolist()


def test_an_offline_hf_hub_model_fails_fast_naming_the_local_way(
    tmp_path: Path, images: Path
) -> None:
    proc = siamreid(
        "embed", "--checkpoint", "hf-hub:someone/reid-model", images, "--out", tmp_path / "e",
        env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    line = one_line_error(proc)
    assert "not reachable" in line
    assert "--checkpoint PATH" in line
