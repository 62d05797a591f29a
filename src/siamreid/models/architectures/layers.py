"""Small layers of the omni-scale networks (OSNet, OSNet-AIN), named as torchreid names them."""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "ChannelGate",
    "Conv1x1",
    "Conv1x1Linear",
    "ConvLayer",
    "LightConv3x3",
    "light_stream",
    "transition",
]


class ConvLayer(nn.Module):
    """Convolution, BatchNorm (or affine InstanceNorm) and ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        instance_norm: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        norm = nn.InstanceNorm2d(out_channels, affine=True) if instance_norm else None
        self.bn: nn.Module = norm or nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve, normalise, rectify."""
        return self.relu(self.bn(self.conv(x)))  # type: ignore[no-any-return]


class Conv1x1(ConvLayer):
    """1x1 convolution, BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)


class Conv1x1Linear(nn.Module):
    """1x1 convolution and (optionally) BatchNorm, without a non-linearity."""

    def __init__(self, in_channels: int, out_channels: int, bn: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project; normalise when built with BatchNorm."""
        x = self.conv(x)
        return x if self.bn is None else self.bn(x)


class LightConv3x3(nn.Module):
    """The "lite" 3x3 convolution: pointwise 1x1, then depthwise 3x3, BatchNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False, groups=out_channels
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pointwise, depthwise, normalise, rectify."""
        return self.relu(self.bn(self.conv2(self.conv1(x))))  # type: ignore[no-any-return]


class ChannelGate(nn.Module):
    """The unified aggregation gate: per-channel weights in (0, 1) from a pooled bottleneck MLP.

    One gate is shared by all streams of a block, so the fusion weights depend on the input.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` scaled channel-wise by its gate."""
        gate = self.fc2(self.relu(self.fc1(self.global_avgpool(x))))
        return x * self.gate_activation(gate)  # type: ignore[no-any-return]


def light_stream(channels: int, depth: int) -> nn.Module:
    """``depth`` lite 3x3 convolutions in a row (a bare layer when ``depth`` is 1)."""
    if depth == 1:
        return LightConv3x3(channels, channels)
    return nn.Sequential(*(LightConv3x3(channels, channels) for _ in range(depth)))


def transition(channels: int) -> nn.Sequential:
    """The stage transition: 1x1 convolution, then 2x2 average pooling (halves H and W)."""
    return nn.Sequential(Conv1x1(channels, channels), nn.AvgPool2d(2, stride=2))
