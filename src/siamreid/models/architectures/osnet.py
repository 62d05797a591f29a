"""OSNet, the omni-scale network for person re-identification, as a timm model.

Zhou, Yang, Cavallaro and Xiang, "Omni-Scale Feature Learning for Person Re-Identification",
ICCV 2019. Each residual block runs four streams of 1, 2, 3 and 4 lightweight 3x3 convolutions
(receptive fields of growing scale) on a bottleneck and fuses them with one shared channel gate.
The IBN variant puts instance normalisation in the stem and after the first stage's blocks.

The submodule names, and so the state-dict keys (``conv1.conv.weight``,
``conv2.0.conv2a.conv1.weight``, ``fc.0.weight``, ``classifier.weight``...), are those of
torchreid's and BoxMOT's OSNet: their checkpoints load into these models as they are.

Example:
    >>> net = timm.create_model("osnet_x0_25", num_classes=0)  # doctest: +SKIP
    >>> net(torch.zeros(2, 3, 256, 128)).shape  # doctest: +SKIP
    torch.Size([2, 512])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers.adaptive_avgmax_pool import SelectAdaptivePool2d
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

from siamreid.errors import PretrainedWeightsError
from siamreid.models.architectures.layers import (
    ChannelGate,
    Conv1x1,
    Conv1x1Linear,
    ConvLayer,
    light_stream,
    transition,
)

__all__ = [
    "OSBlock",
    "OSNet",
    "OSNetArch",
    "create_osnet",
    "osnet_cfg",
]

Stages = list[tuple[str, nn.Module]]


# ------------------------------------------------------------------------------------- block
class OSBlock(nn.Module):
    """The omni-scale residual bottleneck: four streams of 1-4 lite 3x3 convolutions, gated.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (a 1x1 projection matches the shortcut when they differ).
        instance_norm: Instance-normalise the sum (the IBN variant's first stage).
        bottleneck_reduction: ``out_channels`` over the streams' width.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        instance_norm: bool = False,
        bottleneck_reduction: int = 4,
    ) -> None:
        super().__init__()
        mid = out_channels // bottleneck_reduction
        self.conv1 = Conv1x1(in_channels, mid)
        self.conv2a = light_stream(mid, 1)
        self.conv2b = light_stream(mid, 2)
        self.conv2c = light_stream(mid, 3)
        self.conv2d = light_stream(mid, 4)
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, out_channels)
        self.downsample = (
            Conv1x1Linear(in_channels, out_channels) if in_channels != out_channels else None
        )
        self.IN = nn.InstanceNorm2d(out_channels, affine=True) if instance_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual of the gated multi-scale streams, rectified."""
        x1 = self.conv1(x)
        fused = self.gate(self.conv2a(x1)) + self.gate(self.conv2b(x1))
        fused = fused + self.gate(self.conv2c(x1)) + self.gate(self.conv2d(x1))
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv3(fused) + identity
        if self.IN is not None:
            out = self.IN(out)
        return F.relu(out)


def standard_stages(channels: Sequence[int], ibn: bool = False) -> Stages:
    """Stages ``conv2``-``conv4`` of OSNet: two blocks each, a transition after the first two."""
    c0, c1, c2, c3 = channels

    def stage(cin: int, cout: int, pool: bool, instance_norm: bool = False) -> nn.Sequential:
        blocks: list[nn.Module] = [
            OSBlock(cin, cout, instance_norm),
            OSBlock(cout, cout, instance_norm),
        ]
        return nn.Sequential(*blocks, *([transition(cout)] if pool else []))

    return [
        ("conv2", stage(c0, c1, pool=True, instance_norm=ibn)),
        ("conv3", stage(c1, c2, pool=True)),
        ("conv4", stage(c2, c3, pool=False)),
    ]


# ------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class OSNetArch:
    """What tells one OSNet from another.

    Attributes:
        channels: Widths of the stem and the three stages.
        stages: Builds the named stages between the stem and ``conv5`` from ``channels``.
        stem_instance_norm: Instance-normalise the stem (IBN and AIN variants).
    """

    channels: tuple[int, int, int, int]
    stages: Callable[[Sequence[int]], Stages] = standard_stages
    stem_instance_norm: bool = False


class OSNet(nn.Module):
    """OSNet with timm's model surface (``forward_features``, ``forward_head``, ...).

    Stem (7x7 convolution, max pooling), three omni-scale stages, a 1x1 ``conv5``, global
    pooling, then the paper's embedding layer ``fc`` (linear, BatchNorm1d, ReLU) and an
    identity ``classifier``.

    Args:
        arch: The variant's widths and stages.
        num_classes: Classifier width; 0 returns the ``fc`` features.
        feature_dim: Width of the ``fc`` embedding layer.
        in_chans: Input channels.
        global_pool: timm pooling type (``"avg"``, ``"max"``, ``"avgmax"``...).
    """

    def __init__(
        self,
        arch: OSNetArch,
        num_classes: int = 1000,
        feature_dim: int = 512,
        in_chans: int = 3,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        c0, c3 = arch.channels[0], arch.channels[3]
        self.conv1 = ConvLayer(in_chans, c0, 7, 2, 3, instance_norm=arch.stem_instance_norm)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.stage_names = []
        for name, module in arch.stages(arch.channels):
            self.add_module(name, module)
            self.stage_names.append(name)
        self.conv5 = Conv1x1(c3, c3)
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.fc = nn.Sequential(
            nn.Linear(c3, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
        )
        self.num_classes = num_classes
        self.num_features = c3
        self.head_hidden_size = feature_dim
        self.classifier: nn.Module = nn.Identity()
        self.reset_classifier(num_classes)
        _init_weights(self)

    def get_classifier(self) -> nn.Module:
        """The identity classifier (``nn.Identity`` without one)."""
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier of ``num_classes`` (0: none), and optionally a new pooling type."""
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.classifier = (
            nn.Linear(self.head_hidden_size, num_classes) if num_classes else nn.Identity()
        )
        if isinstance(self.classifier, nn.Linear):
            nn.init.normal_(self.classifier.weight, 0, 0.01)
            nn.init.zeros_(self.classifier.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``conv5`` feature map ``[B, num_features, H/16, W/16]``."""
        x = self.maxpool(self.conv1(x))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.conv5(x)  # type: ignore[no-any-return]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool and embed a feature map (``pre_logits``: stop before the classifier)."""
        x = self.fc(self.global_pool(x))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, or the ``fc`` features when the model has no classifier."""
        return self.forward_head(self.forward_features(x))


def _init_weights(model: nn.Module) -> None:
    """The re-id initialisation of the paper's code: He for convolutions, small normal for FC."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# -------------------------------------------------------------------------------- timm names
def osnet_cfg(**kwargs: Any) -> dict[str, Any]:
    """timm pretrained configuration of an OSNet: 256x128 pedestrians, ImageNet statistics.

    No download is named: siamreid ships no weights, a local file comes in through
    ``pretrained_cfg_overlay={"file": path}`` (``weights=`` in siamreid).
    """
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 256, 128),
        "pool_size": (16, 8),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "conv1.conv",
        "classifier": "classifier",
        "license": "mit",
        "paper_ids": "arXiv:1905.00953",
        **kwargs,
    }


def create_osnet(variant: str, arch: OSNetArch, pretrained: bool = False, **kwargs: Any) -> OSNet:
    """Build a registered OSNet through timm's builder (so a local weights file loads).

    Raises:
        PretrainedWeightsError: ``pretrained`` without a local file: there is nothing to download.
    """
    overlay = kwargs.get("pretrained_cfg_overlay") or {}
    if pretrained and not overlay.get("file"):
        raise PretrainedWeightsError(
            f"{variant!r} has no weights to download: OSNet checkpoints (torchreid, BoxMOT) are "
            "local files. Pass one, e.g. SiameseEmbedder("
            f"{variant!r}, weights='{variant}_imagenet.pth') or timm.create_model({variant!r}, "
            "pretrained=True, pretrained_cfg_overlay={'file': path}), or use pretrained=False."
        )
    model: OSNet = build_model_with_cfg(OSNet, variant, pretrained, arch=arch, **kwargs)
    return model


_ARCHS = {
    "osnet_x1_0": OSNetArch((64, 256, 384, 512)),
    "osnet_x0_75": OSNetArch((48, 192, 288, 384)),
    "osnet_x0_5": OSNetArch((32, 128, 192, 256)),
    "osnet_x0_25": OSNetArch((16, 64, 96, 128)),
    "osnet_ibn_x1_0": OSNetArch(
        (64, 256, 384, 512),
        stages=lambda channels: standard_stages(channels, ibn=True),
        stem_instance_norm=True,
    ),
}

default_cfgs = generate_default_cfgs({name: osnet_cfg() for name in _ARCHS})


@register_model
def osnet_x1_0(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet x1.0 (2.2M parameters without the classifier)."""
    return create_osnet("osnet_x1_0", _ARCHS["osnet_x1_0"], pretrained, **kwargs)


@register_model
def osnet_x0_75(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet x0.75: every width three quarters of x1.0."""
    return create_osnet("osnet_x0_75", _ARCHS["osnet_x0_75"], pretrained, **kwargs)


@register_model
def osnet_x0_5(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet x0.5: every width half of x1.0."""
    return create_osnet("osnet_x0_5", _ARCHS["osnet_x0_5"], pretrained, **kwargs)


@register_model
def osnet_x0_25(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet x0.25: every width a quarter of x1.0 (BoxMOT's default re-id model)."""
    return create_osnet("osnet_x0_25", _ARCHS["osnet_x0_25"], pretrained, **kwargs)


@register_model
def osnet_ibn_x1_0(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet x1.0 with instance normalisation in the stem and the first stage (IBN)."""
    return create_osnet("osnet_ibn_x1_0", _ARCHS["osnet_ibn_x1_0"], pretrained, **kwargs)
