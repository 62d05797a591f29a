"""Training losses as named, weighted terms built from pytorch-metric-learning.

A recipe's loss is a sum such as ``1.0 * triplet(batch-hard, margin 0.3) + 1.0 * id(label
smoothing 0.1)``. Each term is a :class:`LossTermConfig`; :class:`CompositeLoss` evaluates them
all and reports every term's value so the Trainer can log them separately.

The kinds, and what each one sees of the model's :class:`~siamreid.models.heads.HeadOutput`:

- ``triplet`` (PML ``TripletMarginLoss``) and ``circle`` (PML ``CircleLoss``, all pairs of the
  batch) act on the pre-neck ``features``; they compare people with each other, so they also
  score identities never seen in training (the validation loss).
- ``id`` is cross-entropy on the model's own BNNeck classifier (``logits``).
- ``arcface`` and ``cosface`` (PML ``ArcFaceLoss`` / ``CosFaceLoss``) are margin softmaxes on
  the neck ``embeddings``. Each owns its class weights (one vector per training identity),
  separate from the model's linear classifier: the Trainer optimises and checkpoints them with
  the model, and they are not part of the saved model (retrieval uses the embeddings only).
- ``center`` is the classic centre loss (Wen et al., 2016) of the bag-of-tricks recipe, which
  PML lacks: the mean squared distance of the pre-neck ``features`` to their identity's centre.
  The centres are a buffer moved at each training step exactly as the BoT code's separate SGD
  optimizer moves them (``center_lr``, 0.5 there), whatever the term's weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from pytorch_metric_learning import distances, losses, miners, reducers
from torch import nn

from siamreid.errors import ConfigError
from siamreid.models.heads import HeadOutput

__all__ = ["CompositeLoss", "LossOutput", "LossTermConfig", "build_loss"]

LossKind = Literal["triplet", "id", "circle", "arcface", "cosface", "center"]
MinerName = Literal["batch_hard", "semi_hard", "hard", "all", "none"]
DistanceName = Literal["euclidean", "normalized_euclidean", "cosine"]
IndicesTuple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

_KINDS = ("triplet", "id", "circle", "arcface", "cosface", "center")
#: Kinds that compare samples with each other, so they also score unseen identities.
_METRIC_KINDS = ("triplet", "circle")
#: Kinds with one weight, centre or logit per training identity.
_CLASS_KINDS = ("id", "arcface", "cosface", "center")
#: Class kinds whose weights or centres the loss holds (not the model's classifier).
_OWN_WEIGHT_KINDS = ("arcface", "cosface", "center")
_MARGINS = {"triplet": 0.3, "circle": 0.25, "arcface": 0.5, "cosface": 0.35}
_SCALES = {"circle": 128.0, "arcface": 64.0, "cosface": 64.0}
_MINERS = ("batch_hard", "semi_hard", "hard", "all", "none")
_DISTANCES = ("euclidean", "normalized_euclidean", "cosine")


@dataclass(frozen=True)
class LossTermConfig:
    """One weighted term of the training loss.

    Attributes:
        kind: ``"triplet"``, ``"circle"``, ``"id"``, ``"arcface"``, ``"cosface"`` or
            ``"center"`` (see the module docstring for what each acts on).
        weight: Multiplier of this term in the total (the bag-of-tricks centre loss: 0.0005).
        name: Name the term is logged under (defaults to ``kind``).
        margin: The kind's margin; ``None`` takes its usual value: triplet 0.3, circle's
            relaxation ``m`` 0.25, ArcFace's additive angle 0.5 (radians), CosFace's cosine
            margin 0.35. ``id`` and ``center`` have none (``None``).
        scale: The logit scale; ``None`` takes its usual value: circle's ``gamma`` 128 (the
            circle-loss paper's re-id setting), ArcFace's and CosFace's ``s`` 64; ``None`` for
            the other kinds.
        miner: Triplet mining over the batch: ``batch_hard`` (hardest positive and negative per
            anchor), ``semi_hard``, ``hard`` (all hard triplets), ``all``, or ``none`` (every
            triplet; also used when the batch brings its own triplets).
        distance: Triplet distance: ``euclidean`` (raw features, the strong-baseline choice),
            ``normalized_euclidean`` (L2-normalised first: PML's default) or ``cosine``.
        label_smoothing: Label smoothing of the identity loss.
        center_lr: How far each training step moves the centres of ``center`` towards their
            identities' features: the learning rate of BoT's plain SGD on the centres.
    """

    kind: LossKind = "triplet"
    weight: float = 1.0
    name: str | None = None
    margin: float | None = None
    scale: float | None = None
    miner: MinerName = "batch_hard"
    distance: DistanceName = "euclidean"
    label_smoothing: float = 0.1
    center_lr: float = 0.5

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, _KINDS)
        _check_choice("miner", self.miner, _MINERS)
        _check_choice("distance", self.distance, _DISTANCES)
        self._check_numbers()
        # A kind's usual margin and scale fill in for None; kinds without one record None
        # (so recipes written when every term carried the triplet's 0.3 resume unchanged).
        margin = self.margin if self.margin is not None else _MARGINS.get(self.kind)
        scale = self.scale if self.scale is not None else _SCALES.get(self.kind)
        object.__setattr__(self, "margin", margin if self.kind in _MARGINS else None)
        object.__setattr__(self, "scale", scale if self.kind in _SCALES else None)

    def _check_numbers(self) -> None:
        if self.weight < 0:
            raise ConfigError(f"LossTermConfig.weight must be >= 0, got {self.weight}.")
        if self.margin is not None and self.margin < 0:
            raise ConfigError(f"LossTermConfig.margin must be >= 0, got {self.margin}.")
        if self.kind == "arcface" and self.margin is not None and self.margin >= math.pi / 2:
            raise ConfigError(
                f"LossTermConfig.margin of 'arcface' is an angle in radians below pi/2 (the "
                f"usual one is 0.5), got {self.margin}; did you give degrees?"
            )
        if self.scale is not None and self.scale <= 0:
            raise ConfigError(f"LossTermConfig.scale must be > 0, got {self.scale}.")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(
                f"LossTermConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}."
            )
        if self.center_lr <= 0:
            raise ConfigError(f"LossTermConfig.center_lr must be > 0, got {self.center_lr}.")

    @property
    def label(self) -> str:
        """The name this term is logged under."""
        return self.name or self.kind

    @property
    def needs_classes(self) -> bool:
        """Whether the term has one weight, centre or logit per training identity."""
        return self.kind in _CLASS_KINDS


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
    return miners.TripletMarginMiner(
        margin=_number(cfg.margin), type_of_triplets=kind, distance=distance
    )


def _number(value: float | None) -> float:
    # LossTermConfig fills margin and scale in for every kind that uses them.
    assert value is not None
    return float(value)


class _TripletTerm(nn.Module):
    def __init__(self, cfg: LossTermConfig) -> None:
        super().__init__()
        self.miner = _miner(cfg)
        self.loss = losses.TripletMarginLoss(
            margin=_number(cfg.margin),
            distance=_distance(cfg.distance),
            reducer=reducers.MeanReducer(),
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


class _CircleTerm(nn.Module):
    def __init__(self, cfg: LossTermConfig) -> None:
        super().__init__()
        self.loss = losses.CircleLoss(m=_number(cfg.margin), gamma=_number(cfg.scale))

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices: IndicesTuple | None
    ) -> torch.Tensor:
        return self.loss(out.features.float(), labels, indices)  # type: ignore[no-any-return]


class _MarginSoftmaxTerm(nn.Module):
    """ArcFace or CosFace; PML's loss owns the class weights ``W`` [embedding_dim, classes]."""

    def __init__(self, cfg: LossTermConfig, num_classes: int, embedding_dim: int) -> None:
        super().__init__()
        margin, scale = _number(cfg.margin), _number(cfg.scale)
        self.loss: losses.BaseMetricLossFunction
        if cfg.kind == "arcface":  # PML takes the ArcFace angle in degrees
            self.loss = losses.ArcFaceLoss(
                num_classes, embedding_dim, margin=math.degrees(margin), scale=scale
            )
        else:
            self.loss = losses.CosFaceLoss(num_classes, embedding_dim, margin=margin, scale=scale)

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices: IndicesTuple | None
    ) -> torch.Tensor:
        return self.loss(out.embeddings.float(), labels)  # type: ignore[no-any-return]


class _CenterTerm(nn.Module):
    """Mean squared distance to the identity's centre; the centres follow their features."""

    centers: torch.Tensor

    def __init__(self, cfg: LossTermConfig, num_classes: int, embedding_dim: int) -> None:
        super().__init__()
        self.register_buffer("centers", torch.randn(num_classes, embedding_dim))  # as BoT
        self.lr = cfg.center_lr

    def forward(
        self, out: HeadOutput, labels: torch.Tensor, indices: IndicesTuple | None
    ) -> torch.Tensor:
        features = out.features.float()
        loss = (features - self.centers[labels]).pow(2).sum(dim=1).mean()
        if self.training and torch.is_grad_enabled():
            self._step(features.detach(), labels)
        return loss

    @torch.no_grad()
    def _step(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        # BoT steps the centres with SGD(lr) on the unweighted loss: the gradient of
        # mean ||x - c||^2 with respect to c_j is -2 * sum_{y_i = j} (x_i - c_j) / batch.
        if not torch.isfinite(features).all():
            return  # the Trainer skips or refuses this batch; keep the centres usable
        pull = torch.zeros_like(self.centers).index_add_(0, labels, features - self.centers[labels])
        self.centers.add_(pull, alpha=2.0 * self.lr / len(labels))


def _term(cfg: LossTermConfig, num_classes: int, embedding_dim: int) -> nn.Module:
    if cfg.kind in _OWN_WEIGHT_KINDS and (num_classes <= 0 or embedding_dim <= 0):
        raise ConfigError(
            f"The {cfg.kind!r} loss term holds one vector per training identity, but it got "
            f"num_classes={num_classes} and embedding_dim={embedding_dim}: build the model with "
            "num_classes=<number of training identities> (the Trainer passes the model's sizes)."
        )
    if cfg.kind == "triplet":
        return _TripletTerm(cfg)
    if cfg.kind == "circle":
        return _CircleTerm(cfg)
    if cfg.kind == "id":
        return _IdTerm(cfg)
    if cfg.kind == "center":
        return _CenterTerm(cfg, num_classes, embedding_dim)
    return _MarginSoftmaxTerm(cfg, num_classes, embedding_dim)


class CompositeLoss(nn.Module):
    """A weighted sum of loss terms; each term's value is reported separately.

    Args:
        terms: The weighted terms.
        num_classes: Training identities, for ``arcface``, ``cosface`` and ``center``.
        embedding_dim: Width of the model's features and embeddings, for the same kinds.
        seed: Seed of their class weights and centres.

    Example:
        >>> loss_fn = build_loss([LossTermConfig("triplet"), LossTermConfig("id", weight=1.0)])
        >>> total, terms = loss_fn(model.forward_train(images), labels)  # doctest: +SKIP
    """

    def __init__(
        self,
        terms: Sequence[LossTermConfig],
        *,
        num_classes: int = 0,
        embedding_dim: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not terms:
            raise ConfigError("The loss needs at least one term, e.g. LossTermConfig('triplet').")
        labels = [t.label for t in terms]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"Loss term names must be unique, got {labels}; set name=... .")
        self.configs = tuple(terms)
        # Class weights and centres start from the seed, the same in every process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            built = {t.label: _term(t, num_classes, embedding_dim) for t in terms}
        self.terms = nn.ModuleDict(built)

    @property
    def needs_logits(self) -> bool:
        """Whether a term uses the model's identity classifier."""
        return any(t.kind == "id" for t in self.configs)

    @property
    def needs_classes(self) -> bool:
        """Whether a term has one weight, centre or logit per training identity."""
        return any(t.needs_classes for t in self.configs)

    def check_classes(self, num_classes: int, num_pids: int) -> None:
        """Refuse a model with fewer classes than the training identities the terms need.

        Raises:
            ConfigError: A term has one class per identity and ``num_classes < num_pids``.
        """
        kinds = sorted({t.kind for t in self.configs if t.needs_classes})
        if kinds and num_classes < num_pids:
            raise ConfigError(
                f"The loss terms {kinds} need one class per training identity ({num_pids}), but "
                f"the model has num_classes={num_classes}. Build it with "
                f"SiameseEmbedder(..., num_classes={num_pids}) or drop those loss terms."
            )

    @property
    def metric_terms(self) -> tuple[LossTermConfig, ...]:
        """The terms that can score identities never seen in training (metric losses, not the
        identity classifier): what a validation loss on held-out people can report."""
        return tuple(t for t in self.configs if t.kind in _METRIC_KINDS)

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


def build_loss(
    terms: Sequence[LossTermConfig], *, num_classes: int = 0, embedding_dim: int = 0, seed: int = 0
) -> CompositeLoss:
    """The :class:`CompositeLoss` of a recipe's loss terms (arguments as there)."""
    return CompositeLoss(terms, num_classes=num_classes, embedding_dim=embedding_dim, seed=seed)
