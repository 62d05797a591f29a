"""torchreid's MobileNetV2 as a timm model: ``mobilenetv2_100_torchreid``.

torchreid's ``mobilenetv2_x1_0`` differs from timm's ``mobilenetv2_100`` in one block: its first
bottleneck keeps the 1x1 expansion conv (expansion 1) that the paper's table and timm drop. Built
with timm's own EfficientNet builder from that block list, it takes torchreid's weights tensor
for tensor and is a backbone by name like any other
(``SiameseEmbedder("mobilenetv2_100_torchreid")``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet
from torch import nn

__all__ = ["mobilenetv2_100_torchreid"]

NAME = "mobilenetv2_100_torchreid"

# timm reads a module's ``default_cfgs`` when register_model registers its entry point.
default_cfgs = generate_default_cfgs(
    {
        NAME: {
            "url": "",
            "num_classes": 0,
            "input_size": (3, 256, 128),
            "pool_size": (8, 4),
            "interpolation": "bilinear",
            "mean": IMAGENET_DEFAULT_MEAN,
            "std": IMAGENET_DEFAULT_STD,
            "first_conv": "conv_stem",
            "classifier": "classifier",
            "license": "mit",
        }
    }
)

_BLOCKS = [
    ["ir_r1_k3_s1_e1_c16"],  # timm: ds_r1_k3_s1_c16 (no expansion conv)
    ["ir_r2_k3_s2_e6_c24"],
    ["ir_r3_k3_s2_e6_c32"],
    ["ir_r4_k3_s2_e6_c64"],
    ["ir_r3_k3_s1_e6_c96"],
    ["ir_r3_k3_s2_e6_c160"],
    ["ir_r1_k3_s1_e6_c320"],
]


@register_model
def mobilenetv2_100_torchreid(pretrained: bool = False, **kwargs: Any) -> EfficientNet:
    """torchreid's MobileNetV2 (width 1.0, 1280 features, ReLU6) in timm's EfficientNet class."""
    model_kwargs: dict[str, Any] = {
        "block_args": decode_arch_def(_BLOCKS),  # type: ignore[no-untyped-call]
        "num_features": 1280,
        "stem_size": 32,
        "round_chs_fn": partial(round_channels, multiplier=1.0),
        "norm_layer": nn.BatchNorm2d,
        "act_layer": nn.ReLU6,
        **kwargs,
    }
    model: EfficientNet = build_model_with_cfg(EfficientNet, NAME, pretrained, **model_kwargs)
    return model
