"""``siamreid embed`` against the library called directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from cli_runner import Runner

from siamreid.models import SiameseEmbedder


def test_embed_writes_sorted_paths_and_their_embeddings(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, synthetic_root: Path, tmp_path: Path
) -> None:
    images = synthetic_root / "query"
    out = tmp_path / "emb.npz"
    result = cli("embed", "--checkpoint", checkpoint, images, "--out", out, "--workers", 2)
    assert result.code == 0, result.err
    saved = np.load(out)
    paths = [Path(p) for p in saved["paths"]]
    assert paths == sorted(images.glob("*.jpg"))
    assert saved["embeddings"].dtype == np.float32
    expected = tiny_model.embed(paths)
    torch.testing.assert_close(torch.from_numpy(saved["embeddings"]), expected)
    assert f"wrote {len(paths)} embeddings of dimension 16" in result.out


def test_embed_flip_averages_mirrors(
    cli: Runner, checkpoint: Path, tiny_model: SiameseEmbedder, synthetic_root: Path, tmp_path: Path
) -> None:
    image = next((synthetic_root / "query").glob("*.jpg"))
    out = tmp_path / "one.npz"
    assert cli("embed", "--checkpoint", checkpoint, image, "--out", out, "--flip").code == 0
    got = torch.from_numpy(np.load(out)["embeddings"])
    torch.testing.assert_close(got, tiny_model.embed([image], flip=True))
    assert not torch.allclose(got, tiny_model.embed([image]))
