"""top_matches against a readable reference: sort each row, drop same-person same-camera items."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.evaluation import top_matches


def reference(
    q: np.ndarray, g: np.ndarray, qp: list[int], gp: list[int], qc: list[int] | None,
    gc: list[int] | None, k: int,
) -> list[list[int]]:  # fmt: skip
    out = []
    for i in range(len(q)):
        dist = np.sqrt(((g - q[i]) ** 2).sum(axis=1))
        valid = [
            j for j in range(len(g))
            if qc is None or gc is None or not (gp[j] == qp[i] and gc[j] == qc[i])
        ]  # fmt: skip
        valid.sort(key=lambda j: (dist[j], j))
        out.append(valid[:k])
    return out


@settings(max_examples=60, deadline=None)
@given(
    num_q=st.integers(1, 5),
    num_g=st.integers(1, 12),
    k=st.integers(1, 6),
    cameras=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_top_matches_equal_the_reference(
    num_q: int, num_g: int, k: int, cameras: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 3, size=(num_q, 2)).astype(np.float32)  # integer grid: many ties
    g = rng.integers(0, 3, size=(num_g, 2)).astype(np.float32)
    qp, gp = rng.integers(0, 3, num_q).tolist(), rng.integers(0, 3, num_g).tolist()
    qc = rng.integers(0, 2, num_q).tolist() if cameras else None
    gc = rng.integers(0, 2, num_g).tolist() if cameras else None
    got = top_matches(q, g, qp, gp, qc, gc, k=k)
    expected = reference(q, g, qp, gp, qc, gc, min(k, num_g))
    for row, want in zip(got.gallery_rows.tolist(), expected, strict=True):
        assert [j for j in row if j >= 0] == want
        assert row[len(want) :] == [-1] * (len(row) - len(want))
    found = got.gallery_rows >= 0
    picked = np.asarray(gp)[np.maximum(got.gallery_rows, 0)]
    assert np.array_equal(got.correct, found & (picked == np.asarray(qp)[:, None]))
    assert np.all(np.isinf(got.distances[~found]))


def test_cameras_must_come_in_pairs_and_k_must_be_positive() -> None:
    feats = torch.eye(2)
    with pytest.raises(ValueError, match="both q_camids and g_camids"):
        top_matches(feats, feats, [1, 2], [1, 2], [0, 0], None)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_matches(feats, feats, [1, 2], [1, 2], k=0)
