"""Validation on held-out identities: retrieval metrics, metric-loss and triplet accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from siamreid.data.samplers import PKSampler
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.evaluation import RankMetrics, evaluate_features
from siamreid.losses import CompositeLoss
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.heads import HeadOutput

__all__ = ["ValidationResult", "compute_outputs", "triplet_accuracy", "validate"]


@dataclass(frozen=True)
class ValidationResult:
    """Metrics on held-out identities, as :meth:`siamreid.Trainer.validate` returns them.

    Attributes:
        metrics: Rank-k, mAP and mINP of the query against the gallery.
        loss: Weighted sum of the metric-loss terms (``nan`` without any).
        terms: Each metric-loss term's value (the identity term cannot score unseen people).
        triplet_accuracy: Fraction of seeded triplets ranked right.
        query_embeddings: ``[Q, D]`` query embeddings.
        gallery_embeddings: ``[G, D]`` gallery embeddings.
    """

    metrics: RankMetrics
    loss: float
    terms: dict[str, float]
    triplet_accuracy: float
    query_embeddings: torch.Tensor
    gallery_embeddings: torch.Tensor


def compute_outputs(
    model: SiameseEmbedder,
    samples: Sequence[ReidSample],
    *,
    batch_size: int = 128,
    num_workers: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-neck features and embeddings of ``samples``, on CPU, computed on the model's device.

    The images go through :meth:`~siamreid.SiameseEmbedder.embed_outputs`, the one path that
    embeds images.
    """
    out = model.embed_outputs(
        [s.path for s in samples], batch_size=batch_size, num_workers=num_workers
    )
    return out.features, out.embeddings


def triplet_accuracy(embeddings: torch.Tensor, pids: np.ndarray, seed: int = 0) -> float:
    """Fraction of seeded (anchor, positive, negative) triplets with d(a, p) < d(a, n).

    Every item whose identity has another image is an anchor once; its positive is a random
    other image of that identity and its negative a random image of another identity.
    """
    rng = np.random.default_rng(seed)
    anchors: list[int] = []
    positives: list[int] = []
    negatives: list[int] = []
    for pid in np.unique(pids):
        same = np.flatnonzero(pids == pid)
        other = np.flatnonzero(pids != pid)
        if len(same) < 2 or len(other) == 0:
            continue
        for anchor in same:
            anchors.append(int(anchor))
            positives.append(int(rng.choice(same[same != anchor])))
            negatives.append(int(rng.choice(other)))
    if not anchors:
        return float("nan")
    a, p, n = (embeddings[torch.as_tensor(ix)] for ix in (anchors, positives, negatives))
    d_ap = (a - p).norm(dim=1)
    d_an = (a - n).norm(dim=1)
    return float((d_ap < d_an).float().mean())


def _val_loss(
    features: torch.Tensor, pids: np.ndarray, loss_fn: CompositeLoss, p: int, k: int
) -> tuple[float, dict[str, float]]:
    metric_terms = loss_fn.metric_terms
    if not metric_terms:
        return float("nan"), {}
    sampler = PKSampler(pids.tolist(), min(p, len(np.unique(pids))), k, seed=0)
    order = np.asarray(list(sampler))
    batches = order[: len(order) // sampler.batch_size * sampler.batch_size]
    sums = {cfg.label: 0.0 for cfg in metric_terms}
    total, count = 0.0, 0
    labels_all = torch.as_tensor(pids)
    for rows in batches.reshape(-1, sampler.batch_size):
        out = HeadOutput(features[rows], features[rows], None)
        labels = labels_all[rows]
        for cfg in metric_terms:
            value = float(loss_fn.terms[cfg.label](out, labels, None))
            sums[cfg.label] += value
            total += cfg.weight * value
        count += 1
    count = max(count, 1)
    return total / count, {name: value / count for name, value in sums.items()}


def validate(
    model: SiameseEmbedder,
    splits: ReidSplits,
    loss_fn: CompositeLoss,
    *,
    device: torch.device,
    p: int,
    k: int,
    num_workers: int = 0,
) -> ValidationResult:
    """Rank-1/mAP/mINP of query against gallery, the metric loss, and triplet accuracy."""
    q_feat, q_emb = compute_outputs(model, splits.query, num_workers=num_workers)
    g_feat, g_emb = compute_outputs(model, splits.gallery, num_workers=num_workers)
    q_pids, g_pids = ReidSplits.pids(splits.query), ReidSplits.pids(splits.gallery)
    metrics = evaluate_features(
        q_emb.numpy(),
        g_emb.numpy(),
        q_pids,
        g_pids,
        ReidSplits.camids(splits.query),
        ReidSplits.camids(splits.gallery),
    )
    keep = np.concatenate([q_pids, g_pids]) > 0  # distractors (pid 0) and junk have no positives
    all_feats = torch.cat([q_feat, g_feat])[torch.from_numpy(keep)]
    all_pids = np.concatenate([q_pids, g_pids])[keep]
    loss, terms = _val_loss(all_feats, all_pids, loss_fn, p, k)
    all_embs = torch.cat([q_emb, g_emb])[torch.from_numpy(keep)]
    accuracy = triplet_accuracy(all_embs, all_pids)
    return ValidationResult(metrics, loss, terms, accuracy, q_emb, g_emb)
