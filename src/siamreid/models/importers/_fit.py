"""Fitting a peer's key set to one architecture, and the siamreid state dict built from it.

A peer architecture (:class:`Arch`) names the timm backbone its weights fit, how its backbone
keys are renamed onto timm's, and where its BNNeck and identity classifier live. The peer's
embedding (the pooled backbone features) becomes siamreid's ``backbone`` output; the
:class:`~siamreid.models.heads.BNNeckHead` on top takes the peer's BNNeck when it has one and is
otherwise the identity (projection ``I``, BatchNorm with unit statistics), so the imported
model embeds exactly as the peer does and fine-tuning starts from there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import timm
import torch

from siamreid.errors import CheckpointError
from siamreid.models.backbones import feature_width
from siamreid.models.importers._read import StateDict

__all__ = ["Arch", "Fit", "closest_error", "fit", "head_state"]

_BN_EPS = 1e-5  # nn.BatchNorm1d's default, which BNNeckHead uses
_SHOWN = 3


def keep(key: str) -> str:
    """The identity rename: the peer's backbone keys are timm's."""
    return key


@dataclass(frozen=True)
class Arch:
    """One peer architecture and how its keys map onto a siamreid model.

    Attributes:
        name: The peer's name for it (what ``arch=`` takes), e.g. ``"osnet_x0_25"``.
        backbone: The timm model its backbone weights fit.
        backbone_prefix: Prefix of the backbone keys in the peer's state dict (stripped).
        rename: Peer backbone key (prefix stripped) -> timm key.
        classifier: Keys that may hold the identity classifier's ``[classes, width]`` weight.
        neck: Prefix of the peer's BNNeck ``BatchNorm1d``; ``None``: the neck is the identity.
        ignored: Keys dropped on purpose (the classifier's bias, normalisation buffers).
        config: Extra :class:`~siamreid.models.ModelConfig` fields the weights need.
    """

    name: str
    backbone: str
    backbone_prefix: str = ""
    rename: Callable[[str], str] = keep
    classifier: tuple[str, ...] = ("classifier.weight",)
    neck: str | None = None
    ignored: tuple[str, ...] = ("classifier.bias",)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fit:
    """How well a state dict fits an architecture."""

    arch: Arch
    backbone: StateDict  # timm keys
    width: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[str, ...]
    matched: int

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def fit(state: StateDict, arch: Arch) -> Fit:
    """Rename ``state``'s backbone keys for ``arch`` and compare them with timm's model."""
    expected, width = _expected(arch.backbone)
    head_keys = set(arch.classifier) | set(arch.ignored)
    backbone: StateDict = {}
    unexpected: list[str] = []
    for key, value in state.items():
        if key in head_keys or (arch.neck is not None and key.startswith(arch.neck)):
            continue
        if not key.startswith(arch.backbone_prefix):
            unexpected.append(key)
            continue
        backbone[arch.rename(key[len(arch.backbone_prefix) :])] = value
    unexpected += [k for k in backbone if k not in expected]
    mismatched = [
        f"{k} {tuple(v.shape)} (expected {tuple(expected[k])})"
        for k, v in backbone.items()
        if k in expected and v.shape != expected[k]
    ]
    return Fit(
        arch=arch,
        backbone=backbone,
        width=width,
        missing=tuple(k for k in expected if k not in backbone),
        unexpected=tuple(unexpected),
        mismatched=tuple(mismatched),
        matched=sum(1 for k, v in backbone.items() if k in expected and v.shape == expected[k]),
    )


@functools.cache  # a pure function of the name; building costs ~0.2 s
def _expected(backbone: str) -> tuple[dict[str, torch.Size], int]:
    """The state dict's names and shapes of a timm backbone, and its pooled width."""
    with torch.device("meta"):  # names and shapes only: no memory is allocated
        model = timm.create_model(backbone, pretrained=False, num_classes=0)
    return {k: v.shape for k, v in model.state_dict().items()}, feature_width(model)


def closest_error(fits: list[Fit], source: str, formats: str) -> CheckpointError:
    """One error naming the architecture that fits best and its first problems."""
    best = max(fits, key=lambda f: f.matched - len(f.missing) - len(f.unexpected))
    parts = [
        f"{label} {', '.join(items[:_SHOWN])}"
        + (f" (+{len(items) - _SHOWN})" if items[_SHOWN:] else "")
        for label, items in (
            ("missing", best.missing),
            ("unexpected", best.unexpected),
            ("mismatched", best.mismatched),
        )
        if items
    ]
    return CheckpointError(
        f"{source!r} fits no architecture siamreid imports ({formats}); the closest is "
        f"{best.arch.name!r} (timm {best.arch.backbone!r}, {best.matched} tensors match): "
        f"{'; '.join(parts)}. Pass arch= (--arch) to pick one, or convert the model with its "
        "own library."
    )


def head_state(state: StateDict, chosen: Fit) -> tuple[StateDict, int]:
    """The ``head.*`` tensors (peer neck or identity; peer classifier) and the class count."""
    width, arch = chosen.width, chosen.arch
    head: StateDict = {"head.proj.weight": torch.eye(width)}
    if arch.neck is not None and f"{arch.neck}weight" in state:
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            head[f"head.bn.{name}"] = state[f"{arch.neck}{name}"].clone()
    else:  # unit statistics: BatchNorm in eval mode passes the features through unchanged
        head["head.bn.weight"] = torch.ones(width)
        head["head.bn.bias"] = torch.zeros(width)
        head["head.bn.running_mean"] = torch.zeros(width)
        head["head.bn.running_var"] = torch.full((width,), 1.0 - _BN_EPS)
        head["head.bn.num_batches_tracked"] = torch.tensor(0)
    classes = 0
    for key in arch.classifier:
        weight = state.get(key)
        if weight is not None and weight.dim() == 2 and weight.shape[1] == width:
            head["head.classifier.weight"] = weight.clone()
            classes = int(weight.shape[0])
            break
    return head, classes
