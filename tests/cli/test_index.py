"""``siamreid index build``: ids from file or folder names, embeddings of the library."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from cli_runner import Runner

from siamreid.data.datasets.market1501 import parse_market1501_name
from siamreid.models import SiameseEmbedder, load_pretrained
from siamreid.retrieval import Retriever


def test_build_indexes_market_names_without_junk(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, gallery: Path, tmp_path: Path
) -> None:
    out = tmp_path / "index"
    args = ["--checkpoint", checkpoint, gallery, "--out", out, "--workers", 0]
    result = cli("index", "build", *args)
    assert result.code == 0, result.err
    files = sorted(gallery.glob("*.jpg"))
    kept = [p for p in files if parse_market1501_name(p.name)[0] != -1]
    assert f"{len(files) - len(kept)} junk images skipped" in result.out
    retriever = Retriever.load(out)
    assert retriever.ids.tolist() == [parse_market1501_name(p.name)[0] for p in kept]
    torch.testing.assert_close(retriever.embeddings, tiny_model.embed(kept))
    bundled = Retriever.load(out, load_model=load_pretrained)  # the index's own model copy
    assert bundled.embedder is not None
    assert bundled.names is None


def test_images_without_identity_are_refused(
    cli: Runner, checkpoint: Path, gallery: Path, tmp_path: Path
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(next(gallery.glob("*.jpg")), flat / "someone.jpg")
    result = cli("index", "build", "--checkpoint", checkpoint, flat, "--out", tmp_path / "i")
    assert result.code == 2
    assert "Cannot tell whose image" in result.err
    assert "sub-folder named after the person" in result.err


def mixed_gallery(gallery: Path, root: Path, folders: tuple[str, ...]) -> list[Path]:
    """Market-1501 files of person 1 at the top, and one image in each of ``folders``."""
    images = sorted(p for p in gallery.glob("*.jpg") if not p.name.startswith("-1"))
    made = [root / "0001_c1s1_000151_01.jpg", root / "0001_c2s1_000301_01.jpg"]
    made += [root / folder / "img.jpg" for folder in folders]
    for source, target in zip(images, made, strict=False):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return made


def test_named_folders_next_to_market_names_get_ids_of_their_own(
    cli: Runner, checkpoint: Path, gallery: Path, tmp_path: Path
) -> None:
    root = tmp_path / "mixed"
    mixed_gallery(gallery, root, ("alice", "bob"))
    out = tmp_path / "index"
    result = cli("index", "build", "--checkpoint", checkpoint, root, "--out", out, "--workers", 0)
    assert result.code == 0, result.err
    assert "indexed 4 images of 3 people" in result.out
    retriever = Retriever.load(out)
    assert sorted(retriever.ids.tolist()) == [1, 1, 2, 3]  # person 0001's two files only
    assert retriever.names == {2: "alice", 3: "bob"}  # numbered after the file names' ids


def test_an_id_given_by_a_folder_and_a_file_name_is_refused_naming_both(
    cli: Runner, checkpoint: Path, gallery: Path, tmp_path: Path
) -> None:
    root = tmp_path / "mixed"
    made = mixed_gallery(gallery, root, ("0001",))
    out = tmp_path / "index"
    result = cli("index", "build", "--checkpoint", checkpoint, root, "--out", out, "--workers", 0)
    assert result.code == 2
    assert "Two labelling rules give id 1" in result.err
    assert str(made[0]) in result.err
    assert str(made[2]) in result.err
    assert not out.exists()


def test_a_gallery_of_only_junk_images_is_refused_before_writing(
    cli: Runner, checkpoint: Path, gallery: Path, tmp_path: Path
) -> None:
    root = tmp_path / "junk"
    root.mkdir()
    for source in sorted(gallery.glob("-1_*.jpg"))[:2]:
        shutil.copy(source, root / source.name)
    out = tmp_path / "index"
    result = cli("index", "build", "--checkpoint", checkpoint, root, "--out", out)
    assert result.code == 2
    assert "has no images to index: all 2 are Market-1501 junk" in result.err
    assert not out.exists()
