"""``siamreid index build``: ids from file or folder names, embeddings of the library."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from cli_runner import Runner

from siamreid.data.market1501 import parse_market1501_name
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
