"""Training losses as named, weighted terms built from pytorch-metric-learning.

A recipe's loss is a sum such as ``1.0 * triplet(batch-hard, margin 0.3) + 1.0 * id(label
smoothing 0.1)``. Each term is a :class:`LossTermConfig`; :class:`CompositeLoss` evaluates them
all and reports every term's value so the Trainer can log them separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from pytorch_metric_learning import distances, losses, miners, reducers
from torch import nn

from siamreid.errors import ConfigError
from siamreid.models.heads import HeadOutput

__all__ = ["CompositeLoss", "LossOutput", "LossTermConfig", "build_loss"]

LossKind = Literal["triplet", "id"]
MinerName = Literal["batch_hard", "semi_hard", "hard", "all", "none"]
DistanceName = Literal["euclidean", "normalized_euclidean", "cosine"]
IndicesTuple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

_KINDS = ("triplet", "id")
_MINERS = ("batch_hard", "semi_hard", "hard", "all", "none")
_DISTANCES = ("euclidean", "normalized_euclidean", "cosine")


@dataclass(frozen=True)
class LossTermConfig:
    """One weighted term of the training loss.

    Attributes:
        kind: ``"triplet"`` (PML ``TripletMarginLoss`` on the pre-neck features) or ``"id"``
            (cross-entropy on the BNNeck classifier's logits).
        weight: Multiplier of this term in the total.
        name: Name the term is logged under (defaults to ``kind``).
        margin: Triplet margin.
        miner: Triplet mining over the batch: ``batch_hard`` (hardest positive and negative per
            anchor), ``semi_hard``, ``hard`` (all hard triplets), ``all``, or ``none`` (every
            triplet; also used when the batch brings its own triplets).
        distance: ``euclidean`` (raw features, the strong-baseline choice),
            ``normalized_euclidean`` (L2-normalised first: PML's default) or ``cosine``.
        label_smoothing: Label smoothing of the identity loss.
    """

    kind: LossKind = "triplet"
    weight: float = 1.0
    name: str | None = None
    margin: float = 0.3
    miner: MinerName = "batch_hard"
    distance: DistanceName = "euclidean"
    label_smoothing: float = 0.1

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, _KINDS)
        _check_choice("miner", self.miner, _MINERS)
        _check_choice("distance", self.distance, _DISTANCES)
        if self.weight < 0:
            raise ConfigError(f"LossTermConfig.weight must be >= 0, got {self.weight}.")
        if self.margin < 0:
            raise ConfigError(f"LossTermConfig.margin must be >= 0, got {self.margin}.")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(
                f"LossTermConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}."
            )

    @property
    def label(self) -> str:
        """The name this term is logged under."""
        return self.name or self.kind


def _check_choice(field: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"LossTermConfig.{field} is {value!r}; expected one of {list(choices)}.")


class LossOutput(NamedTuple):
    """The weighted total and each term's unweighted value."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def _distance(name: DistanceName) -> distances.BaseDistance:
    if name == "cosine":
        return distances.CosineSimilarity()
    return distances.LpDistance(normalize_embeddings=name == "normalized_euclidean")


def _miner(cfg: LossTermConfig) -> miners.BaseMiner | None:
    distance = _distance(cfg.distance)
    if cfg.miner == "batch_hard":
        return miners.BatchHardMiner(distance=distance)
    if cfg.miner == "none":
        return None
    kind = {"semi_hard": "semihard", "hard": "hard", "all": "all"}[cfg.miner]
    return miners.TripletMarginMiner(margin=cfg.margin, type_of_triplets=kind, distance=distance)


class _TripletTerm(nn.Module):
    def __init__(self, cfg: LossTermConfig) -> None:
        super().__init__()
        self.miner = _miner(cfg)
        self.loss = losses.TripletMarginLoss(
            margin=cfg.margin, distance=_distance(cfg.distance), reducer=reducers.MeanReducer()
        )

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices: IndicesTuple | None
    ) -> torch.Tensor:
        features = out.features.float()
        if indices is None and self.miner is not None:
            indices = self.miner(features, labels)
        return self.loss(features, labels, indices)  # type: ignore[no-any-return]


class _IdTerm(nn.Module):
    def __init__(self, cfg: LossTermConfig) -> None:
        super().__init__()
        self.loss = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices: IndicesTuple | None
    ) -> torch.Tensor:
        if out.logits is None:
            raise ConfigError(
                "The 'id' loss term needs identity logits, but the model has no classifier: "
                "build it with num_classes=<number of training identities>."
            )
        return self.loss(out.logits.float(), labels)  # type: ignore[no-any-return]


class CompositeLoss(nn.Module):
    """A weighted sum of loss terms; each term's value is reported separately.

    Example:
        >>> loss_fn = build_loss([LossTermConfig("triplet"), LossTermConfig("id", weight=1.0)])
        >>> total, terms = loss_fn(model.forward_train(images), labels)  # doctest: +SKIP
    """

    def __init__(self, terms: Sequence[LossTermConfig]) -> None:
        super().__init__()
        if not terms:
            raise ConfigError("The loss needs at least one term, e.g. LossTermConfig('triplet').")
        labels = [t.label for t in terms]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"Loss term names must be unique, got {labels}; set name=... .")
        self.configs = tuple(terms)
        self.terms = nn.ModuleDict(
            {t.label: _TripletTerm(t) if t.kind == "triplet" else _IdTerm(t) for t in terms}
        )

    @property
    def needs_logits(self) -> bool:
        """Whether a term uses the identity classifier."""
        return any(t.kind == "id" for t in self.configs)

    @property
    def metric_terms(self) -> tuple[LossTermConfig, ...]:
        """The terms that can score identities never seen in training (metric losses, not the
        identity classifier): what a validation loss on held-out people can report."""
        return tuple(t for t in self.configs if t.kind != "id")

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices_tuple: IndicesTuple | None = None
    ) -> LossOutput:
        """Evaluate every term on one batch.

        Args:
            out: The model's :class:`HeadOutput` for the batch.
            labels: Identity of each row.
            indices_tuple: Explicit (anchor, positive, negative) row indices, for batches that
                bring their own triplets; skips mining.
        """
        values: dict[str, torch.Tensor] = {}
        total = out.features.new_zeros((), dtype=torch.float32)
        for cfg in self.configs:
            value = self.terms[cfg.label](out, labels, indices_tuple)
            values[cfg.label] = value
            total = total + cfg.weight * value
        return LossOutput(total, values)


def build_loss(terms: Sequence[LossTermConfig]) -> CompositeLoss:
    """The :class:`CompositeLoss` of a recipe's loss terms."""
    return CompositeLoss(terms)
