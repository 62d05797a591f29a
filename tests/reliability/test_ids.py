"""Ids, identities and camera ids fit int64 or are refused; NumPy integers work like ints.

Today's failure this guards against: ``Retriever.add(..., ids=[2**64 - 1])`` stored ``-1``,
the id that marks an empty slot in search results, and ``search(k=np.int64(5))`` was refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid._checks import INT64_MAX, INT64_MIN, int64_array, is_int
from siamreid.evaluation import evaluate_rank, query_expansion, re_rank
from siamreid.retrieval import Retriever

EMB = torch.eye(4)


@pytest.mark.parametrize(
    "ids",
    [
        [0, 1, 2, 2**64 - 1],
        np.array([0, 1, 2, 2**63], dtype=np.uint64),
        [0, 1, 2, 2**70],
        [0, 1, 2, -(2**63) - 1],
        (0, 1, 2, np.uint64(2**64 - 1)),
    ],
    ids=["python_2**64-1", "uint64_2**63", "python_2**70", "below_int64", "numpy_scalar"],
)
def test_ids_outside_int64_are_refused_naming_the_value(ids: object) -> None:
    retriever = Retriever()
    with pytest.raises(ValueError, match=r"ids holds -?\d+, outside the int64 range"):
        retriever.add(EMB, ids=ids)
    assert len(retriever) == 0  # nothing half-added


def test_camids_outside_int64_are_refused() -> None:
    with pytest.raises(ValueError, match=rf"camids holds {2**64 - 1}, outside the int64"):
        Retriever().add(EMB, ids=[1, 2, 3, 4], camids=[0, 0, 1, 2**64 - 1])
    with pytest.raises(ValueError, match=r"camids holds"):
        Retriever().add(EMB, ids=[1, 2, 3, 4], camids=np.full(4, 2**63, dtype=np.uint64))


def test_minus_one_is_the_empty_slot_marker_and_not_an_id() -> None:
    with pytest.raises(ValueError, match=r"ids holds -1, which search results use"):
        Retriever().add(EMB, ids=[5, -1, 6, 7])
    with pytest.raises(ValueError, match=r"camids holds -1"):
        Retriever().add(EMB, ids=[5, 6, 7, 8], camids=[0, -1, 0, 1])
    retriever = Retriever()
    retriever.add(EMB, ids=[-2, INT64_MIN, INT64_MAX, 0])  # other negatives (hashes) are fine
    found = retriever.search(EMB, k=1).ids[:, 0].tolist()
    assert found == [-2, INT64_MIN, INT64_MAX, 0]


def test_remove_with_an_out_of_range_id_removes_nothing() -> None:
    retriever = Retriever()
    retriever.add(EMB, ids=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="outside the int64 range"):
        retriever.remove([2**64 - 1])
    assert len(retriever) == 4


def test_numpy_integers_are_accepted_wherever_ints_are() -> None:
    retriever = Retriever()
    retriever.add(EMB, ids=[np.int64(10), np.int32(11), np.uint8(12), 13], camids=np.arange(4))
    for k in (np.int64(2), np.int32(2), np.uint16(2)):
        result = retriever.search(EMB[:1], k=k)
        assert result.ids.shape == (1, 2)
        assert result.ids[0, 0] == 10
    for bad in (True, 2.0, np.float64(2.0), np.bool_(True), "2"):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            retriever.search(EMB[:1], k=bad)  # type: ignore[arg-type]


def test_evaluation_takes_numpy_integers_and_refuses_wrapped_labels() -> None:
    rng = np.random.default_rng(0)
    distmat = rng.random((3, 6))
    q_pids, g_pids = np.array([1, 2, 3]), np.array([1, 2, 3, 1, 2, 3])
    q_cams, g_cams = np.zeros(3, dtype=int), np.ones(6, dtype=int)
    plain = evaluate_rank(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=5, chunk_size=2)
    numpy = evaluate_rank(
        distmat, q_pids, g_pids, q_cams, g_cams, max_rank=np.int64(5), chunk_size=np.int32(2)
    )
    assert numpy.mAP == plain.mAP
    np.testing.assert_array_equal(numpy.cmc, plain.cmc)
    wide = np.array([1, 2, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"q_pids holds 18446744073709551615, outside the int64"):
        evaluate_rank(distmat, wide, g_pids, q_cams, g_cams, max_rank=5)
    feats = torch.randn(9, 4)
    q, g = query_expansion(feats[:3], feats[3:], k=np.int64(2))
    assert q.shape == (3, 4)
    assert g.shape == (6, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reranked = re_rank(
            distmat, rng.random((3, 3)), rng.random((6, 6)), k1=np.int64(3), k2=np.int64(2)
        )
    assert reranked.shape == (3, 6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**80), max_value=2**80), min_size=1, max_size=6))
def test_int64_array_refuses_exactly_what_does_not_fit(values: list[int]) -> None:
    fits = all(INT64_MIN <= v <= INT64_MAX for v in values)
    if fits:
        assert int64_array(values, "ids").tolist() == values
    else:
        with pytest.raises(ValueError, match="ids holds"):
            int64_array(values, "ids")


@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text(max_size=3)))
def test_is_int_is_true_for_integers_only(value: object) -> None:
    assert is_int(value) == (isinstance(value, int) and not isinstance(value, bool))
