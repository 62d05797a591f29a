"""fast-reid checkpoints of a ResNet-50 "bag of tricks" baseline with BNNeck.

fast-reid saves ``{"model": state_dict, ...}`` with the backbone under ``backbone.`` (torchvision
names, which timm's ``resnet50`` shares), the BNNeck under ``heads.bottleneck.0.`` and the
identity classifier as ``heads.weight`` (``heads.classifier.weight`` before v1.0). The BoT
recipe trains with last stride 1; siamreid's BNNeckHead takes the neck as it is (its shift is
frozen at zero in both libraries), and retrieval reads the embedding after the neck.
"""

from __future__ import annotations

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from siamreid.models.backbones import BackboneDataConfig
from siamreid.models.importers._fit import Arch
from siamreid.models.importers._read import StateDict

__all__ = ["ARCHS", "NAME", "claims", "data_config"]

NAME = "fast-reid"

ARCHS: tuple[Arch, ...] = (
    Arch(
        "fastreid_bot_r50",
        "resnet50",
        backbone_prefix="backbone.",
        classifier=("heads.weight", "heads.classifier.weight"),
        neck="heads.bottleneck.0.",
        ignored=("pixel_mean", "pixel_std", "heads.classifier.bias"),
        config={"last_stride": 1},
    ),
)


def claims(state: StateDict) -> bool:
    """fast-reid groups its keys under ``backbone.`` and ``heads.``."""
    return any(k.startswith("backbone.") for k in state) and any(
        k.startswith("heads.") for k in state
    )


def data_config(state: StateDict) -> BackboneDataConfig:
    """fast-reid's ``pixel_mean`` / ``pixel_std`` (0-255) when saved, else ImageNet's."""
    mean, std = state.get("pixel_mean"), state.get("pixel_std")
    if mean is None or std is None or mean.numel() != 3 or std.numel() != 3:
        return BackboneDataConfig(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, "bilinear")
    m, s = (mean.flatten() / 255.0).tolist(), (std.flatten() / 255.0).tolist()
    return BackboneDataConfig((m[0], m[1], m[2]), (s[0], s[1], s[2]), "bilinear")
