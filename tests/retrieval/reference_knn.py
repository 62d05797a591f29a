"""Slow, obvious references for the retrieval tests: numpy k-NN and a tiny fake embedder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from siamreid.data.images import load_image

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def squared_distances(queries: npt.ArrayLike, gallery: npt.ArrayLike) -> FloatArray:
    """Every query-gallery squared distance, one pair at a time, in float64."""
    q = np.asarray(queries, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    out = np.empty((len(q), len(g)))
    for i, query in enumerate(q):
        for j, item in enumerate(g):
            out[i, j] = float(np.sum((query - item) ** 2))
    return out


def reference_knn(
    queries: npt.ArrayLike, gallery: npt.ArrayLike, k: int
) -> tuple[FloatArray, IntArray]:
    """Distances and rows of the ``k`` nearest gallery rows; ties go to the earlier row."""
    sq = squared_distances(queries, gallery)
    order = np.argsort(sq, axis=1, kind="stable")[:, :k]
    return np.sqrt(np.take_along_axis(sq, order, axis=1)), order.astype(np.int64)


def canonical_rows(sq: FloatArray, indices: IntArray) -> list[list[int]]:
    """Neighbour lists made comparable across backends that break ties differently.

    Rows are ordered by (distance, row); rows tied with the k-th distance, where the tie
    reaches beyond the k returned, are replaced by -1 (any of them is a right answer).
    """
    rows = []
    for sq_row, idx_row in zip(sq, indices, strict=True):
        ordered = sorted(idx_row.tolist(), key=lambda j: (sq_row[j], j))
        kth = sq_row[ordered[-1]]
        straddles = int(np.sum(sq_row <= kth)) > len(ordered)
        rows.append([-1 if straddles and sq_row[j] == kth else j for j in ordered])
    return rows


def assert_exact_knn(sq: FloatArray, distances: Any, indices: Any) -> None:
    """``indices`` are a correct k-NN set of each row of ``sq`` and ``distances`` fit them."""
    idx = np.asarray(indices)
    k = idx.shape[1]
    for sq_row, idx_row, dist_row in zip(sq, idx, np.asarray(distances), strict=True):
        assert len(set(idx_row.tolist())) == k
        assert sorted(sq_row[idx_row].tolist()) == sorted(sq_row.tolist())[:k]
        np.testing.assert_allclose(dist_row, np.sqrt(sq_row[idx_row]), rtol=1e-4, atol=1e-4)


class FakeEmbedder:
    """Embeds an image as its per-channel mean and standard deviation (6 numbers)."""

    embedding_dim = 6
    backbone_name = "fake-colour-stats"

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def embed(self, images: Any, *, batch_size: int = 64) -> torch.Tensor:
        self.batch_sizes.append(batch_size)
        if isinstance(images, torch.Tensor):
            batch = images if images.dim() == 4 else images.unsqueeze(0)
        else:
            items = (
                images if isinstance(images, Sequence) and not isinstance(images, str) else [images]
            )
            arrays = [np.asarray(load_image(item), dtype=np.float32) / 255 for item in items]
            batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        return torch.cat([batch.mean(dim=(2, 3)), batch.std(dim=(2, 3))], dim=1).float()
