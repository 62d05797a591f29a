"""The input normalisation an exported graph expects, and the layer that maps one onto another.

A graph expects images normalised either with the backbone's own mean/std (``"model"``) or with
ImageNet's (``"imagenet"``, what BoxMOT feeds every model). When the two differ (ViT, DeiT,
CLIP: 0.5), :class:`InputRenorm` in front of the backbone maps one onto the other, so the
embeddings do not change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from siamreid.models.embedder import SiameseEmbedder

__all__ = [
    "InputNorm",
    "InputRenorm",
    "input_stats",
    "needs_renorm",
    "renormalisation",
    "with_input_norm",
]

InputNorm = Literal["model", "imagenet"]
"""Which mean/std the exported graph expects: the backbone's own, or ImageNet's (BoxMOT's)."""


class InputRenorm(nn.Module):
    """Maps images normalised with one mean/std onto another: ``x * scale + shift``.

    ``x_model = (x_in * std_in + mean_in - mean_model) / std_model``.
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(
        self,
        mean_in: Sequence[float],
        std_in: Sequence[float],
        mean_model: Sequence[float],
        std_model: Sequence[float],
    ) -> None:
        super().__init__()
        m_in, s_in = torch.tensor(mean_in), torch.tensor(std_in)
        m_out, s_out = torch.tensor(mean_model), torch.tensor(std_model)
        self.register_buffer("scale", (s_in / s_out).view(1, 3, 1, 1))
        self.register_buffer("shift", ((m_in - m_out) / s_out).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.scale + self.shift


def input_stats(
    model: SiameseEmbedder, input_norm: InputNorm
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std the exported graph expects at its input."""
    if input_norm == "imagenet":
        return tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD)
    return tuple(model.data_config.mean), tuple(model.data_config.std)


def needs_renorm(model: SiameseEmbedder, input_norm: InputNorm) -> bool:
    mean, std = input_stats(model, input_norm)
    own = (*model.data_config.mean, *model.data_config.std)
    return not np.allclose((*mean, *std), own, rtol=0.0, atol=1e-6)


def with_input_norm(net: SiameseEmbedder, input_norm: InputNorm) -> nn.Module:
    """``net``, behind a renormalising layer when its statistics differ from the input's."""
    if not needs_renorm(net, input_norm):
        return net
    mean, std = input_stats(net, input_norm)
    renorm = InputRenorm(mean, std, net.data_config.mean, net.data_config.std)
    return nn.Sequential(renorm, net).eval()


def renormalisation(session: Any, model: SiameseEmbedder) -> InputRenorm | None:
    """What turns the backbone's normalisation into the one the file's graph expects."""
    props = session.get_modelmeta().custom_metadata_map
    if "mean" not in props or "std" not in props:
        return None  # an older file: the graph expects the backbone's statistics
    mean, std = json.loads(props["mean"]), json.loads(props["std"])
    own = (*model.data_config.mean, *model.data_config.std)
    if np.allclose((*mean, *std), own, rtol=0.0, atol=1e-6):
        return None
    return InputRenorm(model.data_config.mean, model.data_config.std, mean, std)
