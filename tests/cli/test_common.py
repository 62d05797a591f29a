"""What the model-using commands share: worker counts come from the Trainer's rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from siamreid.cli._common import embed_paths
from siamreid.errors import InputError
from siamreid.models import SiameseEmbedder
from siamreid.training.device import default_num_workers


@pytest.mark.parametrize("workers", [None, 0, 3])
def test_embedding_workers_default_to_the_trainers_count(
    tiny_model: SiameseEmbedder, monkeypatch: pytest.MonkeyPatch, workers: int | None
) -> None:
    seen: dict[str, Any] = {}

    def fake_embed(paths: list[Path], **options: Any) -> torch.Tensor:
        seen.update(options)
        return torch.zeros(len(paths), 16)

    monkeypatch.setattr(tiny_model, "embed", fake_embed)
    embed_paths(tiny_model, [Path("a.jpg")], batch_size=4, workers=workers)
    expected = default_num_workers(torch.device("cpu")) if workers is None else workers
    assert seen["num_workers"] == expected


def test_negative_workers_are_refused(tiny_model: SiameseEmbedder) -> None:
    with pytest.raises(InputError, match="--workers >= 0"):
        embed_paths(tiny_model, [Path("a.jpg")], batch_size=4, workers=-1)
