"""re_rank / re_rank_features against a dense, loop-by-loop k-reciprocal re-ranking."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from siamreid.evaluation import _features_knn, re_rank, re_rank_features

Array = npt.NDArray[np.float64]


def _reciprocal(rank: npt.NDArray[np.int64], i: int, k: int) -> list[int]:
    return [int(j) for j in rank[i, : k + 1] if i in rank[j, : k + 1]]


def _reference(q_g: Array, q_q: Array, g_g: Array, k1: int, k2: int, lam: float) -> Array:
    """Zhong et al.'s re-ranking as the reference code defines it, with N x N arrays."""
    nq = q_g.shape[0]
    p = np.power(np.block([[q_q, q_g], [q_g.T, g_g]]), 2).astype(np.float32)
    o = (p / p.max(axis=0)).T  # row i: distances to i, over its column maximum
    n = o.shape[0]
    rank = np.argsort(o, axis=1, kind="stable")  # ties: lower index first
    v = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        own = _reciprocal(rank, i, k1)
        expanded = set(own)
        for c in own:
            cand = _reciprocal(rank, c, int(np.around(k1 / 2.0)))
            if len(set(cand) & set(own)) > 2.0 / 3.0 * len(cand):
                expanded |= set(cand)
        idx = np.array(sorted(expanded), dtype=np.int64)  # empty if duplicates push i out
        w = np.exp(-o[i, idx])
        v[i, idx] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    final = np.empty((nq, n - nq))
    for q in range(nq):
        for g in range(n - nq):
            m = np.minimum(v[q], v[nq + g]).sum()
            final[q, g] = (1 - m / (2 - m)) * (1 - lam) + o[q, nq + g] * lam
    return final


def _sq_dist(a: Array, b: Array) -> Array:
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


@st.composite
def feature_sets(draw: st.DrawFn) -> tuple[Array, Array]:
    """Few points in few dimensions; integer coordinates give exact distances and many ties."""
    nq, ng, dim = draw(st.integers(1, 8)), draw(st.integers(1, 30)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        span = draw(st.integers(1, 3))
        feats = rng.integers(-span, span + 1, (nq + ng, dim)).astype(np.float64)
    else:
        feats = rng.normal(size=(nq + ng, dim))
    return feats[:nq], feats[nq:]


params = st.tuples(st.integers(1, 8), st.integers(1, 5), st.sampled_from([0.0, 0.3, 1.0]))


@settings(max_examples=150, deadline=None)
@given(feature_sets(), params, st.integers(1, 7))
def test_matches_dense_reference(
    feats: tuple[Array, Array], kk: tuple[int, int, float], chunk_size: int
) -> None:
    qf, gf = feats
    k1, k2, lam = kk
    q_g, q_q, g_g = _sq_dist(qf, gf), _sq_dist(qf, qf), _sq_dist(gf, gf)
    if np.all(np.concatenate([qf, gf]) == qf[0]):  # the reference divides 0 by 0
        with pytest.raises(ValueError, match=r"zero|identical"):
            re_rank(q_g, q_q, g_g, k1, k2, lam)
        with pytest.raises(ValueError, match="identical"):
            re_rank_features(qf, gf, k1, k2, lam)
        return
    expected = _reference(q_g, q_q, g_g, k1, k2, lam)
    got = re_rank(q_g, q_q, g_g, k1, k2, lam, chunk_size=chunk_size)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    got = re_rank_features(qf, gf, k1, k2, lam, chunk_size=chunk_size)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)


@settings(max_examples=60, deadline=None)
@given(feature_sets(), params, st.integers(1, 5), st.integers(0, 3))
def test_features_path_is_exact_with_any_pool_and_chunk(
    feats: tuple[Array, Array], kk: tuple[int, int, float], chunk_size: int, extra: int
) -> None:
    qf, gf = feats
    assume(not np.all(np.concatenate([qf, gf]) == qf[0]))  # test_matches_dense_reference's case
    k1, k2, lam = kk
    expected = _reference(_sq_dist(qf, gf), _sq_dist(qf, qf), _sq_dist(gf, gf), k1, k2, lam)
    with pytest.MonkeyPatch.context() as patch:  # tight pools: ties recomputed, pairs missed
        patch.setattr(_features_knn, "POOL_EXTRA", extra)
        got = re_rank_features(
            qf.astype(np.float32), gf.astype(np.float32), k1, k2, lam, chunk_size
        )
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 12), params)
def test_asymmetric_matrices_follow_reference_convention(
    seed: int, nq: int, ng: int, kk: tuple[int, int, float]
) -> None:
    rng = np.random.default_rng(seed)
    q_g, q_q, g_g = rng.random((nq, ng)), rng.random((nq, nq)), rng.random((ng, ng))
    expected = _reference(q_g, q_q, g_g, *kk)
    np.testing.assert_allclose(re_rank(q_g, q_q, g_g, *kk, chunk_size=3), expected, atol=2e-6)


def test_market_like_features_torch_and_numpy_agree() -> None:
    gen = torch.Generator().manual_seed(0)
    centroids = torch.randn(20, 32, generator=gen)
    qf = centroids[torch.arange(40) % 20] + 0.8 * torch.randn(40, 32, generator=gen)
    gf = centroids[torch.arange(160) % 20] + 0.8 * torch.randn(160, 32, generator=gen)
    expected = re_rank(
        _sq_dist(qf.double().numpy(), gf.double().numpy()),
        _sq_dist(qf.double().numpy(), qf.double().numpy()),
        _sq_dist(gf.double().numpy(), gf.double().numpy()),
    )
    np.testing.assert_allclose(re_rank_features(qf, gf), expected, atol=1e-5)
    np.testing.assert_allclose(re_rank_features(qf.numpy(), gf.numpy()), expected, atol=1e-5)
    # Re-ranking should help on identity clusters: same-identity distances shrink most.
    same = (torch.arange(40)[:, None] % 20 == torch.arange(160)[None, :] % 20).numpy()
    plain = _sq_dist(qf.numpy(), gf.numpy())
    gap_before = plain[~same].mean() / plain[same].mean()
    gap_after = expected[~same].mean() / expected[same].mean()
    assert gap_after > gap_before


Q, G = np.zeros((2, 3)), np.zeros((2, 2))


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros(3), Q, Q), {}, r"q_g must be a non-empty .* got \(3,\)"),
        ((Q, np.zeros((3, 3)), np.zeros((3, 3))), {}, r"q_q has shape \(3, 3\), expected \(2, 2\)"),
        ((Q, G, np.zeros((2, 2))), {}, r"g_g has shape \(2, 2\), expected \(3, 3\)"),
        ((Q, G, np.full((3, 3), np.nan)), {}, "g_g has NaN or infinite"),
        ((Q + 1, G + 1, np.ones((3, 3))), {"k1": 0}, "k1 must be a positive int"),
        ((Q + 1, G + 1, np.ones((3, 3))), {"k2": 1.5}, "k2 must be a positive int"),
        ((Q + 1, G + 1, np.ones((3, 3))), {"lambda_value": 2.0}, r"lambda_value must be within"),
        ((Q + 1, G + 1, np.ones((3, 3))), {"chunk_size": 0}, "chunk_size must be a positive"),
        ((Q, G, np.zeros((3, 3))), {}, "every distance to item 0 .* is zero"),
    ],
)
def test_re_rank_errors(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        re_rank(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("q", "g", "message"),
    [
        (np.zeros((2, 3)), np.zeros((4, 2)), "must share width"),
        (np.zeros((2, 3)), np.full((4, 3), np.inf), "gallery_feats has NaN or infinite"),
        (np.ones((2, 3)), np.ones((4, 3)), "all features are identical"),
        (np.zeros((0, 3)), np.ones((4, 3)), "query_feats must be a non-empty 2-D"),
    ],
)
def test_re_rank_features_errors(q: Array, g: Array, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        re_rank_features(q, g)


def test_features_path_runs_on_the_features_device_in_their_precision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[torch.device, torch.dtype, torch.device]] = []
    blocks = _features_knn.FeatureDistances.rows

    def spy(
        self: _features_knn.FeatureDistances,
        rows: slice | torch.Tensor,
        cols: slice,
        buffer: torch.Tensor | None = None,
        scratch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = blocks(self, rows, cols, buffer, scratch)
        seen.append((self.x.device, self.x.dtype, out.device))
        return out

    monkeypatch.setattr(_features_knn.FeatureDistances, "rows", spy)
    rng = np.random.default_rng(0)
    qf, gf = rng.normal(size=(6, 4)), rng.normal(size=(20, 4))
    expected = re_rank(_sq_dist(qf, gf), _sq_dist(qf, qf), _sq_dist(gf, gf), 5, 3)
    for q, g in ((qf, gf), (torch.from_numpy(qf), torch.from_numpy(gf).requires_grad_())):
        seen.clear()
        got = re_rank_features(q, g, 5, 3, chunk_size=8)
        assert isinstance(got, np.ndarray)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
        assert len(seen) == 4  # ceil(26 / 8) row blocks, nothing dense elsewhere
        assert all(
            x_dev == out_dev == torch.device("cpu") and dtype == torch.float64
            for x_dev, dtype, out_dev in seen
        )


def test_tied_pools_are_recomputed_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a grid every distance ties many others: the k-th neighbour's ties reach past a pool."""
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0)), axis=-1).reshape(-1, 2)
    qf, gf = grid[:5], grid[5:]
    expected = _reference(_sq_dist(qf, gf), _sq_dist(qf, qf), _sq_dist(gf, gf), 4, 2, 0.3)
    recomputed: list[int] = []
    blocks = _features_knn.FeatureDistances.rows

    def spy(
        self: _features_knn.FeatureDistances,
        rows: slice | torch.Tensor,
        cols: slice,
        buffer: torch.Tensor | None = None,
        scratch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if isinstance(rows, torch.Tensor):
            recomputed.append(rows.numel())
        return blocks(self, rows, cols, buffer, scratch)

    monkeypatch.setattr(_features_knn.FeatureDistances, "rows", spy)
    monkeypatch.setattr(_features_knn, "POOL_EXTRA", 0)
    got = re_rank_features(qf, gf, 4, 2, 0.3, chunk_size=3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert sum(recomputed) > 0


def test_feature_distances_round_like_numpy_squared_distances() -> None:
    """Bit-equal to ``(|a|^2 + |b|^2) - 2 a @ b.T`` in float32, so near-ties fall alike."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 64)).astype(np.float32)
    sq = (x * x).sum(axis=1)
    expected = np.square((sq[:, None] + sq[None, :]) - 2.0 * (x @ x.T))
    np.fill_diagonal(expected, 0.0)
    dist = _features_knn.FeatureDistances(torch.from_numpy(x[:100]), torch.from_numpy(x[100:]))
    np.testing.assert_array_equal(
        dist.rows(slice(40, 300), slice(40, 300)).numpy(), expected[40:, 40:]
    )
