"""CompositeLoss against explicit loops over triplets and pairs (the obvious implementation)."""

from __future__ import annotations

import math

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
        ({"kind": "sphereface"}, "kind"),
        ({"kind": "arcface", "margin": 28.6}, "radians"),
        ({"scale": 0.0}, "scale"),
        ({"center_lr": 0.0}, "center_lr"),
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
    with_circle = build_loss(
        [LossTermConfig("circle"), LossTermConfig("center")], num_classes=3, embedding_dim=8
    )
    assert [t.label for t in with_circle.metric_terms] == ["circle"]
    assert build_loss([LossTermConfig("id")]).metric_terms == ()


# ---------------------------------------------------------------------------- circle loss
def _circle_reference(feats: torch.Tensor, labels: torch.Tensor, m: float, gamma: float) -> float:
    """Sun et al. (2020), eq. 4 per anchor over the batch's pairs; mean over the anchors."""
    x = F.normalize(feats, dim=1)
    per_anchor = []
    for i in range(len(x)):
        pos_terms, neg_terms = [], []
        for j in range(len(x)):
            s = float(x[i] @ x[j])
            if j != i and labels[j] == labels[i]:
                pos_terms.append(-gamma * max(0.0, 1 + m - s) * (s - (1 - m)))
            elif labels[j] != labels[i]:
                neg_terms.append(gamma * max(0.0, s + m) * (s - m))
        if pos_terms and neg_terms:
            lse = torch.tensor(pos_terms).logsumexp(0) + torch.tensor(neg_terms).logsumexp(0)
            per_anchor.append(float(F.softplus(lse)))
    return sum(per_anchor) / len(per_anchor)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(2, 4), k=st.integers(2, 3))
def test_circle_matches_pairwise_reference(seed: int, p: int, k: int) -> None:
    feats, labels = _batch(seed, p, k)
    feats = feats.float()
    loss_fn = build_loss([LossTermConfig("circle", margin=0.25, scale=32.0)])
    _, terms = loss_fn(HeadOutput(feats, feats, None), labels)
    expected = _circle_reference(feats.double(), labels, m=0.25, gamma=32.0)
    assert terms["circle"].item() == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_circle_defaults_are_the_papers_reid_setting() -> None:
    term = LossTermConfig("circle")
    assert (term.margin, term.scale) == (0.25, 128.0)


# ---------------------------------------------------------------------------- ArcFace / CosFace
def _margin_softmax_reference(
    emb: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, kind: str, m: float, s: float
) -> float:
    """Cross-entropy of s * cos(theta) with the target's cosine given its margin."""
    cos = F.normalize(emb, dim=1) @ F.normalize(weights, dim=0)
    losses = []
    for i, y in enumerate(labels.tolist()):
        row = cos[i].clone()
        theta = math.acos(max(-1.0, min(1.0, float(row[y]))))
        if kind == "cosface":
            row[y] = row[y] - m
        elif theta <= math.pi - m:
            row[y] = math.cos(theta + m)
        else:  # past pi - m, ArcFace keeps the logit decreasing
            row[y] = math.cos(theta) - m * math.sin(m)
        losses.append(float(F.cross_entropy((s * row)[None], torch.tensor([y]))))
    return sum(losses) / len(losses)


@pytest.mark.parametrize(("kind", "margin"), [("arcface", 0.5), ("cosface", 0.35)])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_margin_softmax_matches_reference(kind: str, margin: float, seed: int) -> None:
    feats, labels = _batch(seed, 4, 2)
    feats = feats.float()
    loss_fn = build_loss([LossTermConfig(kind)], num_classes=5, embedding_dim=8, seed=seed)  # type: ignore[arg-type]
    weights = next(loss_fn.parameters()).detach()
    assert weights.shape == (8, 5)
    _, terms = loss_fn(HeadOutput(torch.zeros_like(feats), feats, None), labels)
    expected = _margin_softmax_reference(feats, labels, weights, kind, margin, 64.0)
    assert terms[kind].item() == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_class_weights_come_from_the_seed() -> None:
    def weights(seed: int) -> torch.Tensor:
        loss = build_loss([LossTermConfig("arcface")], num_classes=3, embedding_dim=4, seed=seed)
        return next(loss.parameters()).detach()

    torch.manual_seed(123)
    first = weights(7)
    assert torch.equal(first, weights(7))
    assert not torch.equal(first, weights(8))


@pytest.mark.parametrize("kind", ["arcface", "cosface", "center"])
def test_class_terms_without_classes_say_how_to_fix(kind: str) -> None:
    with pytest.raises(ConfigError, match=f"'{kind}'.*num_classes="):
        build_loss([LossTermConfig(kind)])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- centre loss
def test_center_loss_and_its_step_equal_bag_of_tricks_sgd() -> None:
    """The BoT code: loss = weight * mean ||x - c_y||^2; the centres' gradient is divided by
    the weight and stepped by their own SGD(lr=0.5)."""
    feats, labels = _batch(11, 3, 3)
    feats = feats.float().requires_grad_(True)
    weight = 0.0005
    loss_fn = build_loss(
        [LossTermConfig("center", weight=weight, center_lr=0.5)], num_classes=4, embedding_dim=8
    )
    centers = loss_fn.terms["center"].centers.clone()
    total, terms = loss_fn(HeadOutput(feats, feats, None), labels)

    reference = torch.nn.Parameter(centers.clone())
    ref_feats = feats.detach().clone().requires_grad_(True)
    ref_loss = weight * (ref_feats - reference[labels]).pow(2).sum(1).mean()
    ref_loss.backward()
    assert reference.grad is not None
    reference.grad.mul_(1 / weight)
    torch.optim.SGD([reference], lr=0.5).step()

    assert total.item() == pytest.approx(ref_loss.item(), rel=1e-6)
    assert terms["center"].item() == pytest.approx(ref_loss.item() / weight, rel=1e-6)
    torch.testing.assert_close(loss_fn.terms["center"].centers, reference.detach())
    total.backward()
    torch.testing.assert_close(feats.grad, ref_feats.grad)


def test_center_step_only_in_training_with_gradients() -> None:
    feats, labels = _batch(2, 2, 2)
    loss_fn = build_loss([LossTermConfig("center")], num_classes=2, embedding_dim=8)
    before = loss_fn.terms["center"].centers.clone()
    with torch.no_grad():
        loss_fn(HeadOutput(feats.float(), feats.float(), None), labels)
    loss_fn.eval()(HeadOutput(feats.float(), feats.float(), None), labels)
    assert torch.equal(loss_fn.terms["center"].centers, before)
    nan = torch.full_like(feats.float(), math.nan)
    loss_fn.train()(HeadOutput(nan, nan, None), labels)
    assert torch.equal(loss_fn.terms["center"].centers, before)


# ---------------------------------------------------------------------------- each kind learns
@pytest.mark.parametrize(
    "term",
    [
        LossTermConfig("triplet"),
        LossTermConfig("circle"),
        LossTermConfig("id"),
        LossTermConfig("arcface"),
        LossTermConfig("cosface"),
        LossTermConfig("center"),
    ],
    ids=lambda t: t.kind,
)
def test_each_kind_trains_an_embedding(term: LossTermConfig) -> None:
    """Twenty Adam steps of a linear embedding (and the loss's own weights) on fixed inputs
    lower the term well below where it started."""
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(16, 12, generator=gen)
    labels = torch.arange(4).repeat_interleave(4)
    torch.manual_seed(0)
    embed = torch.nn.Linear(12, 8)
    classifier = torch.nn.Linear(8, 4, bias=False)
    loss_fn = build_loss([term], num_classes=4, embedding_dim=8)
    params = [*embed.parameters(), *classifier.parameters(), *loss_fn.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.05)
    values = []
    for _ in range(20):
        feats = embed(inputs)
        total, _ = loss_fn(HeadOutput(feats, feats, classifier(feats)), labels)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        values.append(total.item())
    assert values[-1] < 0.5 * values[0], values


def test_kinds_without_a_margin_record_none() -> None:
    """Recipes saved when the id term carried the triplet's 0.3 load as today's."""
    assert LossTermConfig("id", margin=0.3) == LossTermConfig("id")
    assert LossTermConfig("id").margin is None
    assert LossTermConfig("center").scale is None


def test_too_few_classes_for_the_training_identities_is_refused() -> None:
    loss_fn = build_loss(
        [LossTermConfig("triplet"), LossTermConfig("cosface")], num_classes=3, embedding_dim=4
    )
    loss_fn.check_classes(num_classes=3, num_pids=3)
    with pytest.raises(ConfigError, match=r"\['cosface'\].*num_classes=5"):
        loss_fn.check_classes(num_classes=3, num_pids=5)
    build_loss([LossTermConfig("circle")]).check_classes(num_classes=0, num_pids=5)
