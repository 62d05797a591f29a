"""Embedding heads: what sits between the pooled backbone features and the embedding."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BNNeckHead", "HeadOutput"]


class HeadOutput(NamedTuple):
    """What a head computes for one batch.

    Attributes:
        features: Projected features before the BatchNorm neck (where metric losses act in the
            "bag of tricks" recipe).
        embeddings: Retrieval embeddings after the neck (L2-normalised when the head normalises).
        logits: Identity logits of the classifier on the neck, or ``None`` without a classifier.
    """

    features: torch.Tensor
    embeddings: torch.Tensor
    logits: torch.Tensor | None


class BNNeckHead(nn.Module):
    """Linear projection + BatchNorm "BNNeck" (Luo et al., 2019), with an optional ID classifier.

    The triplet loss sees the projected features; the classifier and retrieval see the
    batch-normalised ones. The BatchNorm shift is frozen at zero, as in the strong baseline.

    Args:
        in_features: Width of the backbone's pooled features.
        embedding_dim: Width of the embedding.
        num_classes: Training identities for an identity loss; 0 builds no classifier.
        normalize: L2-normalise the embeddings, so Euclidean distance ranks as cosine does.
    """

    def __init__(
        self, in_features: int, embedding_dim: int, num_classes: int = 0, normalize: bool = True
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, embedding_dim, bias=False)
        self.bn = nn.BatchNorm1d(embedding_dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(embedding_dim, num_classes, bias=False) if num_classes else None
        self.normalize = normalize
        nn.init.kaiming_normal_(self.proj.weight, mode="fan_out")
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, pooled: torch.Tensor) -> HeadOutput:
        """Project, normalise and classify pooled backbone features ``[B, in_features]``."""
        features = self.proj(pooled)
        neck = self.bn(features)
        logits = self.classifier(neck) if self.classifier is not None else None
        embeddings = F.normalize(neck, dim=1) if self.normalize else neck
        return HeadOutput(features, embeddings, logits)
