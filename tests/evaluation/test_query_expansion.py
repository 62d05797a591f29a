"""query_expansion against a per-feature loop written from fast-reid's AQE definition."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.evaluation import query_expansion

Array = npt.NDArray[np.float64]


def _reference(qf: Array, gf: Array, k: int, alpha: float) -> tuple[Array, Array]:
    feats = np.concatenate([qf, gf])
    normed = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    out = np.empty_like(feats)
    for i in range(len(feats)):
        sims = normed @ normed[i]
        top = np.argsort(-sims, kind="stable")[:k]  # most similar first, ties: lower index
        out[i] = np.mean(feats[top] * (sims[top] ** alpha)[:, None], axis=0)
    return out[: len(qf)], out[len(qf) :]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 25),
    st.integers(1, 5),
    st.booleans(),
    st.integers(1, 4),
)
def test_matches_reference(
    seed: int, nq: int, ng: int, dim: int, duplicates: bool, chunk: int
) -> None:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(nq + ng, dim))
    if duplicates:  # repeated rows: similarities tied exactly, whatever the rounding
        feats = feats[rng.integers(0, rng.integers(1, nq + ng + 1), nq + ng)]
    k = int(rng.integers(1, nq + ng + 1))
    alpha = float(rng.choice([1.0, 2.0, 3.0]))
    expected_q, expected_g = _reference(feats[:nq], feats[nq:], k, alpha)
    got_q, got_g = query_expansion(feats[:nq], feats[nq:], k, alpha, chunk_size=chunk)
    np.testing.assert_allclose(got_q, expected_q, atol=1e-10)
    np.testing.assert_allclose(got_g, expected_g, atol=1e-10)


def test_torch_in_torch_out_and_pulls_towards_identity_centroids() -> None:
    gen = torch.Generator().manual_seed(0)
    centroids = torch.nn.functional.normalize(torch.randn(10, 64, generator=gen), dim=1)
    ids = torch.arange(200) % 10
    feats = centroids[ids] + 0.1 * torch.randn(200, 64, generator=gen)
    q, g = query_expansion(feats[:50], feats[50:], k=5, alpha=3.0)
    assert isinstance(q, torch.Tensor)
    assert q.shape == (50, 64)
    assert g.shape == (150, 64)
    np_q, _ = query_expansion(feats[:50].numpy(), feats[50:].numpy(), k=5, alpha=3.0)
    np.testing.assert_allclose(np_q, q.numpy(), atol=1e-6)

    def cos_to_centroid(x: torch.Tensor) -> float:
        x = torch.nn.functional.normalize(torch.cat(list(x)), dim=1)
        return float((x * centroids[ids]).sum(dim=1).mean())

    assert cos_to_centroid((q, g)) > cos_to_centroid((feats[:50], feats[50:]))


@pytest.mark.parametrize(
    ("q", "g", "kwargs", "message"),
    [
        (np.ones((2, 3)), np.ones((3, 3)), {"k": 6}, r"k must be an int within \[1, 5\]"),
        (np.ones((2, 3)), np.ones((3, 3)), {"k": 0}, r"k must be an int within"),
        (np.ones((2, 3)), np.ones((3, 4)), {}, "must share width"),
        (np.ones((2, 3)), torch.ones(3, 3), {}, "both as numpy or both as torch"),
        (np.full((2, 3), np.nan), np.ones((3, 3)), {}, "query_feats has NaN"),
        (np.ones((2, 3)), np.ones((3, 3)), {"chunk_size": 0}, "chunk_size must be"),
    ],
)
def test_errors(q: object, g: object, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        query_expansion(q, g, **kwargs)  # type: ignore[call-overload]
