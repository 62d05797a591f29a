"""Validation on held-out identities: the metrics, the metric loss and the triplet accuracy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.data.samples import ReidSplits
from siamreid.evaluation import evaluate_features
from siamreid.losses import LossTermConfig, build_loss
from siamreid.models import SiameseEmbedder
from siamreid.training.validation import (
    ValidationResult,
    compute_outputs,
    triplet_accuracy,
    validate,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def triplet_result(tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits) -> ValidationResult:
    loss_fn = build_loss([LossTermConfig("triplet", miner="batch_hard")])
    return validate(tiny_model, synthetic_splits, loss_fn, device=CPU, p=4, k=2)


def test_compute_outputs_are_the_models_features_and_embeddings(
    tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits
) -> None:
    samples = synthetic_splits.query[:5]
    features, embeddings = compute_outputs(tiny_model, samples, batch_size=2)
    images = tiny_model.preprocess([s.path for s in samples])
    with torch.inference_mode():
        expected = tiny_model.forward_train(images)
    assert features.shape == embeddings.shape == (5, tiny_model.embedding_dim)
    assert features.device == embeddings.device == CPU
    torch.testing.assert_close(features, expected.features)
    torch.testing.assert_close(embeddings, tiny_model.embed([s.path for s in samples]))


def test_metrics_are_those_of_the_query_against_the_gallery(
    tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits, triplet_result: ValidationResult
) -> None:
    query, gallery = synthetic_splits.query, synthetic_splits.gallery
    q_emb = tiny_model.embed([s.path for s in query])
    g_emb = tiny_model.embed([s.path for s in gallery])
    torch.testing.assert_close(triplet_result.query_embeddings, q_emb)
    torch.testing.assert_close(triplet_result.gallery_embeddings, g_emb)
    expected = evaluate_features(
        q_emb.numpy(),
        g_emb.numpy(),
        ReidSplits.pids(query),
        ReidSplits.pids(gallery),
        ReidSplits.camids(query),
        ReidSplits.camids(gallery),
    )
    assert triplet_result.metrics.to_dict() == expected.to_dict()
    assert triplet_result.metrics.num_valid_queries == len(query)


def test_result_reports_each_metric_term(triplet_result: ValidationResult) -> None:
    assert set(triplet_result.terms) == {"triplet"}
    assert triplet_result.loss == pytest.approx(triplet_result.terms["triplet"])
    assert np.isfinite(triplet_result.loss)
    assert triplet_result.loss >= 0.0
    assert 0.0 <= triplet_result.triplet_accuracy <= 1.0


def test_loss_is_the_weighted_sum_of_the_metric_terms_and_ignores_the_identity_term(
    tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits, triplet_result: ValidationResult
) -> None:
    loss_fn = build_loss(
        [
            LossTermConfig("triplet", weight=2.0, miner="batch_hard"),
            LossTermConfig("triplet", weight=0.5, name="all", miner="all", margin=1.0),
            LossTermConfig("id", weight=7.0),
        ]
    )
    result = validate(tiny_model, synthetic_splits, loss_fn, device=CPU, p=4, k=2)
    assert set(result.terms) == {"triplet", "all"}  # the classifier cannot score unseen people
    assert result.terms["triplet"] == pytest.approx(triplet_result.terms["triplet"])
    assert result.loss == pytest.approx(2.0 * result.terms["triplet"] + 0.5 * result.terms["all"])
    assert result.terms["all"] != pytest.approx(result.terms["triplet"])


def test_without_metric_terms_the_loss_is_nan(
    tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits, triplet_result: ValidationResult
) -> None:
    result = validate(
        tiny_model, synthetic_splits, build_loss([LossTermConfig("id")]), device=CPU, p=4, k=2
    )
    assert np.isnan(result.loss)
    assert result.terms == {}
    assert result.metrics.to_dict() == triplet_result.metrics.to_dict()
    assert result.triplet_accuracy == triplet_result.triplet_accuracy


def test_distractors_take_no_part_in_the_loss_or_the_triplets(
    tiny_model: SiameseEmbedder, synthetic_splits: ReidSplits, triplet_result: ValidationResult
) -> None:
    distractors = [s for s in synthetic_splits.gallery if s.pid <= 0]
    assert distractors  # the synthetic gallery has some
    people_only = dataclasses.replace(
        synthetic_splits, gallery=[s for s in synthetic_splits.gallery if s.pid > 0]
    )
    loss_fn = build_loss([LossTermConfig("triplet", miner="batch_hard")])
    result = validate(tiny_model, people_only, loss_fn, device=CPU, p=4, k=2)
    assert result.loss == pytest.approx(triplet_result.loss)
    assert result.terms == pytest.approx(triplet_result.terms)
    assert result.triplet_accuracy == triplet_result.triplet_accuracy


def _reference_accuracy(embeddings: torch.Tensor, pids: np.ndarray, seed: int) -> float:
    """The documented rule, written out: the same seeded draws, one anchor at a time."""
    rng = np.random.default_rng(seed)
    right, total = 0, 0
    for pid in np.unique(pids):
        same = [i for i in range(len(pids)) if pids[i] == pid]
        other = [i for i in range(len(pids)) if pids[i] != pid]
        if len(same) < 2 or not other:
            continue
        for anchor in same:
            positive = int(rng.choice(np.array([i for i in same if i != anchor])))
            negative = int(rng.choice(np.array(other)))
            d_ap = float(torch.dist(embeddings[anchor], embeddings[positive]))
            d_an = float(torch.dist(embeddings[anchor], embeddings[negative]))
            right += d_ap < d_an
            total += 1
    return right / total if total else float("nan")


@settings(max_examples=40, deadline=None)
@given(
    pids=st.lists(st.integers(1, 4), min_size=2, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_triplet_accuracy_equals_the_explicit_count(pids: list[int], seed: int) -> None:
    labels = np.array(pids)
    embeddings = torch.randn(len(pids), 3, generator=torch.Generator().manual_seed(seed))
    got = triplet_accuracy(embeddings, labels, seed=seed)
    expected = _reference_accuracy(embeddings, labels, seed)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected)


def test_triplet_accuracy_of_separated_and_of_crossed_identities() -> None:
    pids = np.array([1, 1, 2, 2])
    separated = torch.tensor([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    assert triplet_accuracy(separated, pids) == 1.0
    # each identity's two images sit across a square, the other identity's on the other diagonal
    # closer to each of them: every triplet is ranked wrong
    crossed = torch.tensor([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [5.0, -5.0]])
    assert triplet_accuracy(crossed, pids) == 0.0
    assert np.isnan(triplet_accuracy(torch.zeros(3, 2), np.array([1, 2, 3])))  # no positives
