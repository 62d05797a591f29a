"""The index bundle stays whole: Python saves onto CLI indexes, foreign files, killed saves,
concurrent writers and readers, and models that are not the index's own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from reliability_helpers import one_line_error, siamreid

from siamreid import Retriever, SiameseEmbedder
from siamreid._io import writer_lock
from siamreid.errors import IndexFormatError
from siamreid.models import load_pretrained, save_pretrained

SIZE = (64, 32)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    """A gallery folder of named people (sub-folders), a few images each."""
    root = tmp_path_factory.mktemp("bundle") / "people"
    images = sorted((synthetic_root / "bounding_box_test").glob("*.jpg"))[:12]
    for i, image in enumerate(images):
        person = root / ("alice", "bob", "carol")[i % 3]
        person.mkdir(parents=True, exist_ok=True)
        (person / image.name.replace(".jpg", f"_{i}.jpg")).write_bytes(image.read_bytes())
    return root


def tiny_model(seed: int) -> SiameseEmbedder:
    torch.manual_seed(seed)
    return SiameseEmbedder("test_resnet", 8, pretrained=False, input_size=SIZE).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pretrained(tiny_model(0), tmp_path_factory.mktemp("model") / "model")


@pytest.fixture
def cli_index(tmp_path: Path, gallery: Path, model_dir: Path) -> Path:
    out = tmp_path / "index"
    proc = siamreid("index", "build", "--checkpoint", model_dir, gallery, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_python_save_onto_a_cli_index_keeps_model_and_names(
    cli_index: Path, gallery: Path
) -> None:
    (cli_index / "README.txt").write_text("my notes")  # a file the bundle does not own
    retriever = Retriever.load(cli_index)  # no model: embeddings only
    retriever.remove([retriever.ids[0].item()])
    retriever.save(cli_index)
    assert (cli_index / "README.txt").read_text() == "my notes"
    reloaded = Retriever.load(cli_index, load_model=load_pretrained)
    assert reloaded.names is not None
    assert sorted(reloaded.names.values()) == ["alice", "bob", "carol"]
    assert reloaded.embedder is not None
    proc = siamreid("search", "--index", cli_index, gallery / "alice", "--k", "2")
    assert proc.returncode == 0, proc.stderr
    assert "alice" in proc.stdout


def test_searching_with_other_weights_is_refused_unless_allowed(
    cli_index: Path, gallery: Path, tmp_path: Path
) -> None:
    other = save_pretrained(tiny_model(1), tmp_path / "other")  # same backbone and width
    line = one_line_error(
        siamreid("search", "--index", cli_index, gallery / "bob", "--checkpoint", other)
    )
    assert "same architecture, other weights" in line
    assert "--allow-other-model" in line
    allowed = siamreid(
        "search",
        "--index",
        cli_index,
        gallery / "bob",
        "--checkpoint",
        other,
        "--allow-other-model",
    )
    assert allowed.returncode == 0, allowed.stderr
    with pytest.raises(IndexFormatError, match="other weights"):
        Retriever.load(cli_index, embedder=tiny_model(1))
    assert len(Retriever.load(cli_index, embedder=tiny_model(1), allow_other_model=True)) == 12


def test_a_weights_file_whose_bytes_changed_is_detected(model_dir: Path, tmp_path: Path) -> None:
    copy = save_pretrained(load_pretrained(model_dir), tmp_path / "copy")
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # one weight changes; the file still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(Exception, match=r"changed since it was saved"):
        SiameseEmbedder.from_pretrained(copy)


def _saver_script(target: Path, rows: int) -> str:
    return textwrap.dedent(
        f"""
        import torch
        from siamreid import Retriever
        sizes = [{rows}, {rows // 2}]
        i = 0
        while True:
            r = Retriever()
            n = sizes[i % 2]
            r.add(torch.full((n, 64), float(n)), ids=torch.arange(n))
            r.save({str(target)!r})
            print("saved", flush=True)
            i += 1
        """
    )


def test_readers_never_fail_while_another_process_saves(tmp_path: Path) -> None:
    target = tmp_path / "busy-index"
    rows = 20_000
    saver = subprocess.Popen(
        [sys.executable, "-c", _saver_script(target, rows)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert saver.stdout is not None
        assert saver.stdout.readline().strip() == "saved"
        seen = set()
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            loaded = Retriever.load(target)  # never raises, whatever the saver is doing
            n = len(loaded)
            assert n in (rows, rows // 2)
            assert bool((loaded.embeddings == float(n)).all())  # one consistent version
            seen.add(n)
        assert seen == {rows, rows // 2}
    finally:
        saver.kill()
        saver.wait()


def test_a_killed_save_leaves_nothing_the_next_save_does_not_clean(tmp_path: Path) -> None:
    target = tmp_path / "killed-index"
    saver = subprocess.Popen(
        [sys.executable, "-c", _saver_script(target, 200_000)], stdout=subprocess.PIPE, text=True
    )
    assert saver.stdout is not None
    assert saver.stdout.readline().strip() == "saved"
    time.sleep(0.3)  # well inside the next 50 MB save
    os.kill(saver.pid, signal.SIGKILL)
    assert saver.wait() == -signal.SIGKILL
    assert len(Retriever.load(target)) in (200_000, 100_000)  # the last committed version
    retriever = Retriever()
    retriever.add(torch.zeros(3, 64), ids=[1, 2, 3])
    retriever.save(target)
    names = sorted(p.name for p in target.iterdir())
    assert [n for n in names if not n.startswith("v-")] == [".siamreid.lock", "meta.json"]
    assert len([n for n in names if n.startswith("v-")]) == 1
    assert len(Retriever.load(target)) == 3


def test_a_second_process_saving_into_one_index_gets_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "locked-index"
    Retriever().save(target)
    with writer_lock(target, what="index", error=IndexFormatError):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import torch; from siamreid import Retriever; r = Retriever(); "
                "r.add(torch.zeros(2, 4), ids=[1, 2]); "
                f"r.save({str(target)!r})",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode != 0
    assert "Another process is writing the index" in proc.stderr
    assert len(Retriever.load(target)) == 0  # the first writer's index is intact


MAGENTA = (255, 0, 255)  # the private image's colour: found in a PNG only if it was drawn


def _resign_paths(index: Path, paths: list[str]) -> None:
    """Rewrite the bundle's paths.json as a hostile user would: with the checksum meta.json
    checks recomputed, so that the bundle reads as whole."""
    meta = json.loads((index / "meta.json").read_text())
    stored = index / meta["version"] / "paths.json"
    stored.write_text(json.dumps(paths))
    meta["sha256"]["paths.json"] = hashlib.sha256(stored.read_bytes()).hexdigest()
    (index / "meta.json").write_text(json.dumps(meta))


def _hostile_index(cli_index: Path, gallery: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``cli_index`` with its images copied inside it, three rows re-signed to point at a
    private image outside it (``..``, absolute, a link), and one query image."""
    private = tmp_path / "private" / "secret.jpg"
    private.parent.mkdir()
    Image.new("RGB", (32, 64), MAGENTA).save(private)
    images = sorted(gallery.rglob("*.jpg"))
    inside = cli_index / "images"
    inside.mkdir()
    for image in images:
        shutil.copy(image, inside / image.name)
    (cli_index / "images" / "link.jpg").symlink_to(private)
    hostile = ["../private/secret.jpg", str(private), "images/link.jpg"]
    _resign_paths(cli_index, hostile + [f"images/{p.name}" for p in images[3:]])
    return private, images[0]


def _magenta(png: Path) -> bool:
    with Image.open(png) as img:
        pixels = np.asarray(img.convert("RGB"))
    near = np.abs(pixels.astype(int) - np.array(MAGENTA)) <= 12  # JPEG shifts it a little
    return bool(np.all(near, axis=-1).any())


def test_a_resigned_paths_file_cannot_draw_a_private_image_into_the_plot(
    tmp_path: Path, cli_index: Path, gallery: Path
) -> None:
    private, query = _hostile_index(cli_index, gallery, tmp_path)
    plot = tmp_path / "ranked.png"
    args = ["search", "--index", cli_index, query, "--k", "12", "--plot", plot]
    proc = siamreid(*args, "--plot-queries", "1")
    assert proc.returncode == 0, proc.stderr
    assert str(private) in proc.stdout  # listed as stored...
    assert "note: 3 drawn match(es) are stored outside the index folder" in proc.stdout
    assert not _magenta(plot)  # ...but never drawn
    allowed = siamreid(*args, "--plot-queries", "1", "--allow-outside-paths")
    assert allowed.returncode == 0, allowed.stderr
    assert _magenta(plot)  # the user's explicit leave: drawn


def test_search_plot_never_opens_a_path_outside_the_index(
    tmp_path: Path, cli_index: Path, gallery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamreid import viz
    from siamreid.cli.main import main

    private, query = _hostile_index(cli_index, gallery, tmp_path)
    opened: list[str] = []
    real_load = viz.load_image

    def recording_load(path: Any, *args: Any, **kwargs: Any) -> Image.Image:
        opened.append(os.path.realpath(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(viz, "load_image", recording_load)
    plot = tmp_path / "ranked.png"
    argv = ["search", "--index", str(cli_index), str(query), "--k", "12", "--plot", str(plot)]
    assert main([*argv, "--plot-queries", "1", "--workers", "0"]) == 0
    assert len(opened) == 1 + 12 - 3  # the query and the matches inside the index
    assert str(private) not in opened
    loaded = Retriever.load(cli_index)
    loaded_paths = _paths(loaded)
    assert [loaded.may_open(p) for p in loaded_paths[:4]] == [False, False, False, True]
    allowing = Retriever.load(cli_index, allow_outside_paths=True)
    assert all(allowing.may_open(p) for p in loaded_paths)


def _paths(retriever: Retriever) -> list[str]:
    result = retriever.search(retriever.embeddings[:1], k=len(retriever))
    assert result.paths is not None
    by_row = dict(zip(result.indices[0].tolist(), result.paths[0], strict=True))
    return [by_row[i] for i in range(len(retriever))]
