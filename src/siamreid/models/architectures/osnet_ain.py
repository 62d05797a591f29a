"""OSNet-AIN: OSNet with instance normalisation where the TPAMI paper's search put it.

Zhou, Yang, Cavallaro and Xiang, "Learning Generalisable Omni-Scale Representations for
Person Re-Identification", TPAMI 2021. Instance normalisation (in the stem and inside most
residual blocks, before the shortcut is added) removes camera and dataset style, which helps
a model trained on one dataset on another. State-dict keys are those of torchreid's and
BoxMOT's ``osnet_ain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from timm.models import generate_default_cfgs, register_model
from torch import nn

from siamreid.models.architectures.layers import (
    ChannelGate,
    Conv1x1,
    Conv1x1Linear,
    LightConv3x3,
    transition,
)
from siamreid.models.architectures.osnet import OSNet, OSNetArch, Stages, create_osnet, osnet_cfg

__all__ = ["LightConvStream", "OSBlockAIN", "ain_stages"]


class LightConvStream(nn.Module):
    """``depth`` lite 3x3 convolutions in a row (one stream of an AIN block)."""

    def __init__(self, in_channels: int, out_channels: int, depth: int) -> None:
        super().__init__()
        first = LightConv3x3(in_channels, out_channels)
        rest = (LightConv3x3(out_channels, out_channels) for _ in range(depth - 1))
        self.layers = nn.Sequential(first, *rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the stream."""
        return self.layers(x)  # type: ignore[no-any-return]


class OSBlockAIN(nn.Module):
    """The omni-scale block of OSNet-AIN, with or without instance normalisation inside.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        instance_norm: Instance-normalise the residual branch (in place of its BatchNorm)
            before the shortcut is added; the paper's search chose this for most blocks.
        reduction: ``out_channels`` over the streams' width.
        streams: Number of streams; stream ``t`` has ``t`` lite 3x3 convolutions.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        instance_norm: bool,
        reduction: int = 4,
        streams: int = 4,
    ) -> None:
        super().__init__()
        mid = out_channels // reduction
        self.conv1 = Conv1x1(in_channels, mid)
        self.conv2 = nn.ModuleList(LightConvStream(mid, mid, t) for t in range(1, streams + 1))
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, out_channels, bn=not instance_norm)
        self.downsample = (
            Conv1x1Linear(in_channels, out_channels) if in_channels != out_channels else None
        )
        self.IN = nn.InstanceNorm2d(out_channels, affine=True) if instance_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual of the gated streams (instance-normalised when built so), rectified."""
        x1 = self.conv1(x)
        streams = iter(self.conv2)
        fused = self.gate(next(streams)(x1))
        for stream in streams:
            fused = fused + self.gate(stream(x1))
        residual = self.conv3(fused)
        if self.IN is not None:
            residual = self.IN(residual)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(residual + identity)


def ain_stages(channels: Sequence[int]) -> Stages:
    """The searched AIN layout: IN in five of six blocks, transitions as their own stages."""
    c0, c1, c2, c3 = channels

    def pair(cin: int, cout: int, first_in: bool, second_in: bool) -> nn.Sequential:
        return nn.Sequential(OSBlockAIN(cin, cout, first_in), OSBlockAIN(cout, cout, second_in))

    return [
        ("conv2", pair(c0, c1, True, True)),
        ("pool2", transition(c1)),
        ("conv3", pair(c1, c2, False, True)),
        ("pool3", transition(c2)),
        ("conv4", pair(c2, c3, True, False)),
    ]


def _ain(channels: tuple[int, int, int, int]) -> OSNetArch:
    return OSNetArch(channels, stages=ain_stages, stem_instance_norm=True)


_ARCHS = {
    "osnet_ain_x1_0": _ain((64, 256, 384, 512)),
    "osnet_ain_x0_75": _ain((48, 192, 288, 384)),
    "osnet_ain_x0_5": _ain((32, 128, 192, 256)),
    "osnet_ain_x0_25": _ain((16, 64, 96, 128)),
}

default_cfgs = generate_default_cfgs({name: osnet_cfg() for name in _ARCHS})


@register_model
def osnet_ain_x1_0(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet-AIN x1.0, the variant trained for cross-domain generalisation."""
    return create_osnet("osnet_ain_x1_0", _ARCHS["osnet_ain_x1_0"], pretrained, **kwargs)


@register_model
def osnet_ain_x0_75(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet-AIN x0.75."""
    return create_osnet("osnet_ain_x0_75", _ARCHS["osnet_ain_x0_75"], pretrained, **kwargs)


@register_model
def osnet_ain_x0_5(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet-AIN x0.5."""
    return create_osnet("osnet_ain_x0_5", _ARCHS["osnet_ain_x0_5"], pretrained, **kwargs)


@register_model
def osnet_ain_x0_25(pretrained: bool = False, **kwargs: Any) -> OSNet:
    """OSNet-AIN x0.25."""
    return create_osnet("osnet_ain_x0_25", _ARCHS["osnet_ain_x0_25"], pretrained, **kwargs)
