"""torchreid and BoxMOT checkpoints (BoxMOT's re-id backbones are torchreid's, key for key).

A checkpoint is a bare state dict or ``{"state_dict": ...}``, often with ``module.`` prefixes.
The model's eval output is its pooled features (after the ``fc`` block where it has one), its
``classifier`` a ``Linear`` on them. Mapped here:

- the OSNet family (``osnet_x1_0`` ... ``osnet_ain_x1_0``): siamreid's timm OSNet models carry
  torchreid's key names, so the backbone keys are taken as they are;
- ``resnet50``: torchvision's key names, which timm's ``resnet50`` shares;
- ``mobilenetv2_x1_0``: onto ``mobilenetv2_100_torchreid`` (timm's MobileNetV2 builder with
  torchreid's expanded first block), renaming ``convN.i.conv1.conv`` -> ``blocks.(N-2).i.conv_pw``
  and so on.

The classifier's bias is dropped: siamreid's classifier has none (a per-class offset that
fine-tuning relearns at once).
"""

from __future__ import annotations

import re

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from siamreid.models.architectures import ARCHITECTURES
from siamreid.models.backbones import BackboneDataConfig
from siamreid.models.importers._fit import Arch
from siamreid.models.importers._read import StateDict

__all__ = ["ARCHS", "NAME", "claims", "data_config", "mobilenetv2_key"]

NAME = "torchreid"

_MNV2_LAYER = {"conv1.conv": "conv_pw", "conv1.bn": "bn1", "dwconv2.conv": "conv_dw"}
_MNV2_LAYER |= {"dwconv2.bn": "bn2", "conv3.0": "conv_pwl", "conv3.1": "bn3"}
_MNV2_BLOCK = re.compile(
    r"conv([2-8])\.(\d+)\.(conv1\.conv|conv1\.bn|dwconv2\.conv|dwconv2\.bn|conv3\.[01])\."
)
_MNV2_ENDS = {"conv1.conv.": "conv_stem.", "conv1.bn.": "bn1.", "conv9.conv.": "conv_head."}
_MNV2_ENDS |= {"conv9.bn.": "bn2."}


def mobilenetv2_key(key: str) -> str:
    """torchreid's MobileNetV2 key -> ``mobilenetv2_100_torchreid``'s (others unchanged)."""
    match = _MNV2_BLOCK.match(key)
    if match:
        stage, index, layer = match.groups()
        return f"blocks.{int(stage) - 2}.{index}.{_MNV2_LAYER[layer]}.{key[match.end() :]}"
    for old, new in _MNV2_ENDS.items():
        if key.startswith(old):
            return new + key[len(old) :]
    return key


ARCHS: tuple[Arch, ...] = (
    *(Arch(name, name) for name in ARCHITECTURES if name.startswith("osnet")),
    Arch("resnet50", "resnet50"),
    Arch("mobilenetv2_x1_0", "mobilenetv2_100_torchreid", rename=mobilenetv2_key),
)


def claims(state: StateDict) -> bool:
    """torchreid's keys sit at the top level (no ``backbone.`` / ``heads.`` groups)."""
    return not any(k.startswith(("backbone.", "heads.")) for k in state)


def data_config(state: StateDict) -> BackboneDataConfig:
    """torchreid trains and tests on ImageNet mean/std, resizing with bilinear interpolation."""
    del state
    return BackboneDataConfig(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, "bilinear")
