"""evaluate_rank / evaluate_features against a per-query loop in the style of torchreid."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from siamreid.evaluation import RankMetrics, _ranking, evaluate_features, evaluate_rank

IntArray = npt.NDArray[np.int64]


def _reference(
    distmat: npt.NDArray[np.float64],
    q_pids: IntArray,
    g_pids: IntArray,
    q_camids: IntArray | None,
    g_camids: IntArray | None,
    max_rank: int,
    exclude_self: bool = False,
) -> tuple[npt.NDArray[np.float64], float, float, list[float]] | None:
    """torchreid's eval_market1501 + fast-reid's mINP, stable sort; None if no valid query."""
    num_q, num_g = distmat.shape
    max_rank = min(max_rank, num_g)
    all_cmc, all_ap, all_inp = [], [], []
    for q in range(num_q):
        order = np.argsort(distmat[q], kind="stable")
        remove = np.zeros(num_g, dtype=bool)
        if q_camids is not None and g_camids is not None:
            remove = (g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q])
        if exclude_self:
            remove |= order == q
        raw = (g_pids[order] == q_pids[q])[~remove].astype(np.int64)
        if not raw.any():
            continue
        hits = raw.cumsum()
        hardest = int(np.flatnonzero(raw)[-1])
        all_inp.append(hits[hardest] / (hardest + 1.0))
        cmc = np.minimum(hits, 1)[:max_rank]
        # fewer valid items than max_rank: the query was found, the curve stays at 1
        all_cmc.append(np.pad(cmc, (0, max_rank - len(cmc)), constant_values=1))
        precision = hits / np.arange(1.0, len(raw) + 1)
        all_ap.append(float((precision * raw).sum() / raw.sum()))
    if not all_ap:
        return None
    return np.mean(all_cmc, axis=0), float(np.mean(all_ap)), float(np.mean(all_inp)), all_ap


@dataclass
class Problem:
    distmat: npt.NDArray[np.float64]
    q_pids: IntArray
    g_pids: IntArray
    q_camids: IntArray | None
    g_camids: IntArray | None


@st.composite
def problems(draw: st.DrawFn, *, cameras: bool | None = None) -> Problem:
    """Small problems; integer-valued distances make ties between matches and non-matches."""
    num_q = draw(st.integers(1, 8))
    num_g = draw(st.integers(1, 40))
    num_ids = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        distmat = rng.integers(0, draw(st.integers(1, 6)), (num_q, num_g)).astype(np.float64)
    else:
        distmat = np.abs(rng.normal(size=(num_q, num_g)))  # distances: never negative
    use_cams = draw(st.booleans()) if cameras is None else cameras
    num_cams = draw(st.integers(1, 3))
    return Problem(
        distmat,
        rng.integers(0, num_ids, num_q),
        rng.integers(0, num_ids, num_g),
        rng.integers(0, num_cams, num_q) if use_cams else None,
        rng.integers(0, num_cams, num_g) if use_cams else None,
    )


def _check(metrics: RankMetrics, expected: tuple[np.ndarray, float, float, list[float]]) -> None:
    cmc, m_ap, m_inp, all_ap = expected
    np.testing.assert_allclose(metrics.cmc, cmc, rtol=0, atol=1e-12)
    assert metrics.mAP == pytest.approx(m_ap, abs=1e-12)
    assert metrics.mINP == pytest.approx(m_inp, abs=1e-12)
    np.testing.assert_allclose(metrics.all_ap, all_ap, rtol=0, atol=1e-12)
    assert metrics.num_valid_queries == len(all_ap)


def _run(p: Problem, **kwargs: object) -> RankMetrics:
    return evaluate_rank(p.distmat, p.q_pids, p.g_pids, p.q_camids, p.g_camids, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(problems(), st.integers(1, 12))
def test_matches_reference(p: Problem, max_rank: int) -> None:
    expected = _reference(p.distmat, p.q_pids, p.g_pids, p.q_camids, p.g_camids, max_rank)
    if expected is None:
        with pytest.raises(ValueError, match="no valid query"):
            _run(p, max_rank=min(max_rank, p.distmat.shape[1]))
        return
    metrics = _run(p, max_rank=min(max_rank, p.distmat.shape[1]))
    _check(metrics, expected)


@settings(max_examples=100, deadline=None)
@given(problems(cameras=True), st.sampled_from([1, 2, 3, 1000]))
def test_chunk_size_and_binary_search_path_agree(p: Problem, chunk_size: int) -> None:
    expected = _reference(p.distmat, p.q_pids, p.g_pids, p.q_camids, p.g_camids, 5)
    assume(expected is not None)  # no valid query: test_matches_reference checks the error
    assert expected is not None
    max_rank = min(5, p.distmat.shape[1])
    _check(_run(p, max_rank=max_rank, chunk_size=chunk_size), expected)
    with pytest.MonkeyPatch.context() as patch:  # force the searchsorted path for every query
        patch.setattr(_ranking, "_MATRIX_MAX_MATCHES", 0)
        _check(_run(p, max_rank=max_rank, chunk_size=chunk_size), expected)


def test_many_matches_use_binary_search_with_ties() -> None:
    rng = np.random.default_rng(0)
    g_pids = rng.integers(0, 2, 400)  # ~200 matches per query: more than the matrix limit
    distmat = rng.integers(0, 4, (6, 400)).astype(np.float64)
    q_pids = np.array([0, 1, 0, 1, 0, 1])
    expected = _reference(distmat, q_pids, g_pids, None, None, 50)
    assert expected is not None
    _check(evaluate_rank(distmat, q_pids, g_pids), expected)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_all_vs_all_excludes_only_self(p: Problem) -> None:
    n = p.distmat.shape[1]
    rng = np.random.default_rng(n)
    d = rng.integers(0, 4, (n, n)).astype(np.float64)
    d = d + d.T
    cams = p.g_camids
    expected = _reference(d, p.g_pids, p.g_pids, cams, cams, 10, exclude_self=True)
    if expected is None:
        with pytest.raises(ValueError, match="no valid query"):
            evaluate_rank(d, p.g_pids, p.g_pids, cams, cams, min(10, n), exclude_self=True)
        return
    _check(
        evaluate_rank(d, p.g_pids, p.g_pids, cams, cams, min(10, n), exclude_self=True), expected
    )


def test_hand_computed_example() -> None:
    # Gallery by distance: match (idx 0), non-match, same-camera match (removed), match.
    distmat = np.array([[0.1, 0.2, 0.25, 0.3]])
    metrics = evaluate_rank(
        distmat, np.array([7]), np.array([7, 3, 7, 7]), np.array([0]), np.array([1, 1, 0, 2]), 3
    )
    # Valid ranking: hit, miss, hit -> AP = (1/1 + 2/3) / 2, INP = 2/3, CMC = [1, 1, 1].
    assert metrics.mAP == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.mINP == pytest.approx(2 / 3)
    np.testing.assert_array_equal(metrics.cmc, [1.0, 1.0, 1.0])
    # A tie between the last match (idx 3) and a lower-index non-match puts the non-match first.
    distmat = np.array([[0.1, 0.3, 0.25, 0.3]])
    metrics = evaluate_rank(
        distmat, np.array([7]), np.array([7, 3, 7, 7]), np.array([0]), np.array([1, 1, 0, 2]), 3
    )
    assert metrics.mAP == pytest.approx((1 + 2 / 3) / 2)


@pytest.mark.parametrize(
    "convert",
    [
        torch.from_numpy,
        lambda a: torch.from_numpy(a).float(),
        lambda a: torch.from_numpy(a).half(),
        lambda a: torch.from_numpy(a).bfloat16(),
        lambda a: a.astype(np.float16),
    ],
    ids=["torch64", "torch32", "torch16", "bfloat16", "numpy16"],
)
def test_torch_and_low_precision_inputs(convert: object) -> None:
    rng = np.random.default_rng(1)
    distmat = rng.integers(0, 50, (30, 80)).astype(np.float64)  # exact in every float type
    q_pids, g_pids = rng.integers(0, 10, 30), rng.integers(0, 10, 80)
    q_cams, g_cams = rng.integers(0, 3, 30), rng.integers(0, 3, 80)
    expected = evaluate_rank(distmat, q_pids, g_pids, q_cams, g_cams)
    got = evaluate_rank(
        convert(distmat),  # type: ignore[operator]
        torch.from_numpy(q_pids),
        torch.from_numpy(g_pids),
        torch.from_numpy(q_cams),
        torch.from_numpy(g_cams),
    )
    assert got.to_dict() == expected.to_dict()
    np.testing.assert_array_equal(got.all_ap, expected.all_ap)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_evaluate_features_matches_distance_matrix(metric: str, exclude_self: bool) -> None:
    rng = np.random.default_rng(2)
    centroids = rng.normal(size=(12, 16))
    g_pids = rng.integers(0, 12, 150)
    g_cams = rng.integers(0, 4, 150)
    g_feats = centroids[g_pids] + rng.normal(size=(150, 16))
    if exclude_self:
        q_feats, q_pids, q_cams = g_feats, g_pids, g_cams
    else:
        q_pids, q_cams = rng.integers(0, 12, 40), rng.integers(0, 4, 40)
        q_feats = centroids[q_pids] + rng.normal(size=(40, 16))
    if metric == "cosine":
        qn = q_feats / np.linalg.norm(q_feats, axis=1, keepdims=True)
        gn = g_feats / np.linalg.norm(g_feats, axis=1, keepdims=True)
        distmat = 1 - qn @ gn.T
    else:
        distmat = ((q_feats[:, None, :] - g_feats[None, :, :]) ** 2).sum(-1)
    expected = evaluate_rank(distmat, q_pids, g_pids, q_cams, g_cams, exclude_self=exclude_self)
    for chunk_size in (7, 1000):
        got = evaluate_features(
            torch.from_numpy(q_feats),
            g_feats,
            q_pids,
            g_pids,
            q_cams,
            g_cams,
            metric=metric,  # type: ignore[arg-type]
            chunk_size=chunk_size,
            exclude_self=exclude_self,
        )
        np.testing.assert_allclose(got.all_ap, expected.all_ap, atol=1e-12)
        np.testing.assert_allclose(got.cmc, expected.cmc, atol=1e-12)


def test_max_rank_larger_than_gallery_warns_and_clamps() -> None:
    with pytest.warns(UserWarning, match="max_rank=50 exceeds the 3 gallery items"):
        m = evaluate_rank(np.array([[0.0, 1.0, 2.0]]), [1], [0, 1, 1])
    assert m.max_rank == 3
    np.testing.assert_array_equal(m.cmc, [0.0, 1.0, 1.0])
    assert m.to_dict() == {"rank1": 0.0, "mAP": pytest.approx((1 / 2 + 2 / 3) / 2), "mINP": 2 / 3}


def test_rank_metrics_accessors() -> None:
    m = RankMetrics(
        cmc=np.linspace(0.5, 1.0, 12),
        mAP=0.4,
        mINP=0.2,
        num_valid_queries=2,
        all_ap=np.array([0.3, 0.5]),
    )
    assert m.rank1 == 0.5
    assert m.rank(12) == 1.0
    assert m.to_dict() == {
        "rank1": 0.5,
        "rank5": m.cmc[4],
        "rank10": m.cmc[9],
        "mAP": 0.4,
        "mINP": 0.2,
    }
    assert all(type(v) is float for v in m.to_dict().values())
    with pytest.raises(ValueError, match=r"k must be within \[1, 12\]"):
        m.rank(13)
    with pytest.raises(ValueError, match="read-only"):
        m.cmc[0] = 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cmc": np.array([0.5, 0.4])}, "non-decreasing"),
        ({"cmc": np.array([])}, "non-empty"),
        ({"mAP": 1.5}, "mAP must be within"),
        ({"mINP": -0.1}, "mINP must be within"),
        ({"num_valid_queries": 3}, "all_ap must have num_valid_queries=3"),
    ],
)
def test_rank_metrics_validation(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "cmc": np.array([0.5, 1.0]),
        "mAP": 0.5,
        "mINP": 0.5,
        "num_valid_queries": 1,
        "all_ap": np.array([0.5]),
    }
    with pytest.raises(ValueError, match=message):
        RankMetrics(**{**fields, **kwargs})  # type: ignore[arg-type]


D = np.zeros((2, 3))
P2, P3 = np.array([0, 1]), np.array([0, 1, 1])


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros(3), P2, P3), {}, r"distmat must be a non-empty 2-D .* shape \(3,\)"),
        ((np.zeros((2, 0)), P2, np.array([], dtype=int)), {}, r"shape \(2, 0\)"),
        ((np.zeros((0, 3)), np.array([], dtype=int), P3), {}, r"shape \(0, 3\)"),
        ((D, P3, P3), {}, r"q_pids has 3 entries but distmat \(2, 3\) has 2 queries"),
        ((D, P2, P2), {}, r"g_pids has 2 entries but distmat \(2, 3\) has 3 gallery items"),
        ((D, P2, P3, P3, P3), {}, "q_camids has 3 entries"),
        ((D, P2, P3, P2, P2), {}, "g_camids has 2 entries"),
        ((D, P2, P3, P2), {}, "pass both q_camids and g_camids"),
        ((D, P2.astype(float), P3), {}, "q_pids must hold integers"),
        ((D, P2[:, None], P3), {}, "q_pids must be 1-D"),
        ((np.array([[0.0, np.nan, 1.0], [0, 1, 2]]), P2, P3), {"max_rank": 3}, "NaN .* row 0"),
        ((D, np.array([5, 6]), P3), {"max_rank": 3}, "no valid query"),
        ((D, P2, P3), {"max_rank": 0}, "max_rank must be a positive int"),
        ((D, P2, P3), {"chunk_size": 0}, "chunk_size must be a positive int"),
        ((D, P2, P3), {"exclude_self": True}, "exclude_self=True needs the query set"),
    ],
)
def test_evaluate_rank_errors(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_rank(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("q", "g", "kwargs", "message"),
    [
        (np.zeros((2, 4)), np.zeros((3, 5)), {}, r"must share width"),
        (np.zeros((2, 4)), np.zeros((0, 4)), {}, r"gallery_feats must be a non-empty 2-D"),
        (np.full((2, 4), np.nan), np.zeros((3, 4)), {}, "query_feats has NaN or infinite"),
        (np.zeros((2, 4), dtype=int), np.zeros((3, 4)), {}, "query_feats must hold floats"),
        (np.zeros((2, 4)), np.zeros((3, 4)), {"metric": "l1"}, "metric must be 'euclidean'"),
    ],
)
def test_evaluate_features_errors(
    q: np.ndarray, g: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_features(q, g, P2, P3, **kwargs)  # type: ignore[arg-type]


def test_a_similarity_matrix_gets_a_warning() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(6, 4))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    similarity = feats[:3] @ feats.T  # cosine similarities: larger is closer, some negative
    pids = np.array([0, 1, 2, 0, 1, 2])
    with pytest.warns(UserWarning, match=r"negative values.*expects distances"):
        evaluate_rank(similarity, pids[:3], pids)


def test_distances_rounded_below_zero_give_no_warning() -> None:
    distmat = np.array([[-1e-7, 0.5], [0.5, 0.0]], dtype=np.float32)  # 1 - cos in float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_rank(distmat, [0, 1], [0, 1], max_rank=2)
