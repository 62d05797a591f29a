"""CompositeLoss against explicit loops over triplets (the obvious implementation)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.errors import ConfigError
from siamreid.losses import LossTermConfig, build_loss
from siamreid.models.heads import HeadOutput


def _batch(seed: int, p: int, k: int, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(p * k, dim, generator=gen, dtype=torch.float64)
    labels = torch.arange(p).repeat_interleave(k)
    return feats, labels


def _batch_hard_reference(feats: torch.Tensor, labels: torch.Tensor, margin: float) -> float:
    """Per anchor: hardest positive, hardest negative, hinge; mean over anchors with both."""
    losses = []
    for i in range(len(feats)):
        d = [(feats[i] - feats[j]).norm().item() for j in range(len(feats))]
        pos = [d[j] for j in range(len(feats)) if j != i and labels[j] == labels[i]]
        neg = [d[j] for j in range(len(feats)) if labels[j] != labels[i]]
        if pos and neg:
            losses.append(max(0.0, max(pos) - min(neg) + margin))
    return sum(losses) / len(losses)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(2, 5), k=st.integers(2, 4))
def test_batch_hard_triplet_matches_loop(seed: int, p: int, k: int) -> None:
    feats, labels = _batch(seed, p, k)
    loss_fn = build_loss([LossTermConfig("triplet", margin=0.3, miner="batch_hard")])
    total, terms = loss_fn(HeadOutput(feats, feats, None), labels)
    expected = _batch_hard_reference(feats.float(), labels, 0.3)
    assert terms["triplet"].item() == pytest.approx(expected, abs=1e-5)
    assert total.item() == pytest.approx(expected, abs=1e-5)


def test_explicit_triplets_use_given_indices() -> None:
    feats, labels = _batch(3, 3, 2)
    a, p, n = torch.tensor([0, 2]), torch.tensor([1, 3]), torch.tensor([4, 5])
    loss_fn = build_loss([LossTermConfig("triplet", margin=0.5, miner="none")])
    _, terms = loss_fn(HeadOutput(feats, feats, None), labels, (a, p, n))
    f = feats.float()
    expected = [
        max(0.0, (f[i] - f[j]).norm().item() - (f[i] - f[m]).norm().item() + 0.5)
        for i, j, m in zip(a.tolist(), p.tolist(), n.tolist(), strict=True)
    ]
    assert terms["triplet"].item() == pytest.approx(sum(expected) / 2, abs=1e-5)


def test_weighted_sum_of_terms_and_id_term_is_cross_entropy() -> None:
    feats, labels = _batch(5, 4, 2)
    logits = torch.randn(len(labels), 4, generator=torch.Generator().manual_seed(1))
    loss_fn = build_loss(
        [
            LossTermConfig("triplet", weight=2.0, margin=0.3),
            LossTermConfig("id", weight=0.5, label_smoothing=0.1),
        ]
    )
    total, terms = loss_fn(HeadOutput(feats, feats, logits), labels)
    ce = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert terms["id"].item() == pytest.approx(ce.item(), rel=1e-6)
    assert total.item() == pytest.approx(2.0 * terms["triplet"].item() + 0.5 * ce.item(), rel=1e-6)


def test_id_term_without_classifier_says_how_to_fix() -> None:
    feats, labels = _batch(0, 2, 2)
    loss_fn = build_loss([LossTermConfig("id")])
    with pytest.raises(ConfigError, match="num_classes"):
        loss_fn(HeadOutput(feats, feats, None), labels)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "arcface"}, "kind"),
        ({"miner": "hardest"}, "miner"),
        ({"distance": "manhattan"}, "distance"),
        ({"weight": -1.0}, "weight"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
    ],
)
def test_invalid_term_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        LossTermConfig(**kwargs)  # type: ignore[arg-type]


def test_duplicate_term_names_rejected() -> None:
    with pytest.raises(ConfigError, match="unique"):
        build_loss([LossTermConfig("triplet"), LossTermConfig("triplet", miner="semi_hard")])


def test_metric_terms_are_those_that_can_score_unseen_people() -> None:
    loss_fn = build_loss(
        [LossTermConfig("triplet"), LossTermConfig("id"), LossTermConfig("triplet", name="t2")]
    )
    assert [t.label for t in loss_fn.metric_terms] == ["triplet", "t2"]
    assert build_loss([LossTermConfig("id")]).metric_terms == ()
