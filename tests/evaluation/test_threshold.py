"""Threshold calibration against brute force over every threshold, and the distance helpers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.evaluation.threshold import (
    DistanceThreshold,
    calibrate_threshold,
    nearest_match_distances,
    pair_distances,
)

# small grids make ties and overlaps between the two sets common
distances = st.lists(st.integers(0, 40).map(lambda v: v / 8), min_size=1, max_size=25)


def _rates(same: list[float], diff: list[float], t: float) -> tuple[float, float]:
    tar = sum(d <= t for d in same) / len(same)
    far = sum(d <= t for d in diff) / len(diff)
    return tar, far


def _every_threshold(same: list[float], diff: list[float]) -> list[float]:
    """Each distinct decision: accept nothing, or everything up to one of the distances."""
    return [-1.0, *sorted(set(same) | set(diff))]


@settings(max_examples=200, deadline=None)
@given(same=distances, diff=distances)
def test_default_maximises_tar_minus_far(same: list[float], diff: list[float]) -> None:
    result = calibrate_threshold(same, diff)
    best = max(
        tar - far for tar, far in (_rates(same, diff, t) for t in _every_threshold(same, diff))
    )
    tar, far = _rates(same, diff, result.threshold)
    assert tar - far == pytest.approx(best)
    assert (result.true_accept_rate, result.false_accept_rate) == pytest.approx((tar, far))
    assert (result.num_same, result.num_diff) == (len(same), len(diff))


@settings(max_examples=200, deadline=None)
@given(same=distances, diff=distances, bound=st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 1.0]))
def test_bounded_far_takes_the_most_matches_within_the_bound(
    same: list[float], diff: list[float], bound: float
) -> None:
    result = calibrate_threshold(same, diff, max_false_accept_rate=bound)
    allowed = [
        rates
        for rates in (_rates(same, diff, t) for t in _every_threshold(same, diff))
        if rates[1] <= bound + 1e-12
    ]
    tar, far = _rates(same, diff, result.threshold)
    assert far <= bound + 1e-12
    assert tar == pytest.approx(max(r[0] for r in allowed))


def test_threshold_sits_halfway_in_the_gap() -> None:
    result = calibrate_threshold([0.2, 0.3, 0.5], [0.7, 0.9])
    assert result.threshold == pytest.approx(0.6)
    assert result.balanced_accuracy == 1.0
    assert result.accepts([0.59, 0.61]).tolist() == [True, False]


def test_all_different_closer_than_same_accepts_nothing() -> None:
    result = calibrate_threshold([2.0, 3.0], [0.0, 1.0])
    assert result.true_accept_rate == result.false_accept_rate == 0.0
    assert result.threshold < 0.0


@pytest.mark.parametrize(
    ("same", "diff", "bound", "message"),
    [
        ([], [1.0], None, "distances_same"),
        ([1.0], [float("nan")], None, "distances_diff"),
        ([[1.0]], [1.0], None, "distances_same must be 1-D"),
        ([1.0], [2.0], 1.5, "max_false_accept_rate"),
    ],
)
def test_bad_input_names_the_argument(
    same: object, diff: object, bound: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate_threshold(same, diff, max_false_accept_rate=bound)


def test_distance_threshold_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="false_accept_rate"):
        DistanceThreshold(0.5, 1.0, 1.5, 1, 1)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 12))
def test_pair_distances_match_a_double_loop(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 4))
    ids = rng.integers(0, 3, n)
    same, diff = pair_distances(torch.from_numpy(emb).float(), ids)
    ref_same, ref_diff = [], []
    for i, j in itertools.combinations(range(n), 2):
        d = float(np.linalg.norm(emb[i] - emb[j]))
        (ref_same if ids[i] == ids[j] else ref_diff).append(d)
    np.testing.assert_allclose(np.sort(same), np.sort(ref_same), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.sort(diff), np.sort(ref_diff), rtol=1e-5, atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**16), nq=st.integers(1, 6), ng=st.integers(1, 8))
def test_nearest_match_distances_match_loops(seed: int, nq: int, ng: int) -> None:
    rng = np.random.default_rng(seed)
    q, g = rng.normal(size=(nq, 3)), rng.normal(size=(ng, 3))
    q_ids, g_ids = rng.integers(0, 4, nq), rng.integers(0, 4, ng)
    same, diff = nearest_match_distances(q, q_ids, g, g_ids)
    ref_same, ref_diff = [], []
    for i in range(nq):
        own = [np.linalg.norm(q[i] - g[j]) for j in range(ng) if g_ids[j] == q_ids[i]]
        other = [np.linalg.norm(q[i] - g[j]) for j in range(ng) if g_ids[j] != q_ids[i]]
        if own:
            ref_same.append(min(own))
        if other:
            ref_diff.append(min(other))
    np.testing.assert_allclose(same, ref_same, rtol=1e-6)
    np.testing.assert_allclose(diff, ref_diff, rtol=1e-6)


def test_mismatched_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="ids has 2 entries for 3 embeddings"):
        pair_distances(np.zeros((3, 2)), [1, 2])


def test_one_identity_says_that_a_second_is_needed() -> None:
    embeddings = np.random.default_rng(0).normal(size=(5, 4))
    same, diff = pair_distances(embeddings, [7] * 5)
    assert same.size == 10
    with pytest.raises(ValueError, match=r"distances_diff is empty.*at least two identities"):
        calibrate_threshold(same, diff)


def test_no_identity_seen_twice_says_so() -> None:
    same, diff = pair_distances(np.eye(3), [1, 2, 3])
    with pytest.raises(ValueError, match=r"distances_same is empty.*two or more images"):
        calibrate_threshold(same, diff)
