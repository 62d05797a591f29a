"""Shared helpers of the index-bundle tests: a filled Retriever and edits of a saved bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from siamreid.retrieval import Retriever


def filled(metric: str = "euclidean", seed: int = 0, n: int = 50, **kwargs: Any) -> Retriever:
    gen = torch.Generator().manual_seed(seed)
    retriever = Retriever(metric=metric, **kwargs)  # type: ignore[arg-type]
    retriever.add(
        torch.randn(n, 6, generator=gen),
        ids=torch.arange(n) // 2,
        camids=torch.arange(n) % 3,
        paths=[f"img/{seed}_{i}.jpg" for i in range(n)],
    )
    return retriever


def queries() -> torch.Tensor:
    return torch.randn(5, 6, generator=torch.Generator().manual_seed(99))


def data_dir(folder: Path) -> Path:
    """The version folder the bundle's meta.json points at now."""
    return folder / json.loads((folder / "meta.json").read_text())["version"]


def edit_meta(folder: Path, **changes: Any) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))
