"""Global pooling for re-id: generalized-mean (GeM) pooling, put in a timm backbone's place.

GeM (Radenović, Tolias and Chum, TPAMI 2019) pools ``(mean(x^p))^(1/p)`` per channel with a
learnable ``p``: 1 is average pooling, large ``p`` tends to max pooling. Re-id baselines
(fast-reid, the strong baseline's follow-ups) use it for a point or two of mAP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers.adaptive_avgmax_pool import SelectAdaptivePool2d
from torch import nn

from siamreid.errors import BackboneError

__all__ = ["GeneralizedMeanPooling", "use_gem_pooling"]


class GeneralizedMeanPooling(nn.Module):
    """Generalized-mean pooling over H and W with a learnable exponent ``p``.

    Args:
        p: Initial exponent (3 as in the paper; 1 is average pooling).
        eps: Floor of the activations, so that ``x^p`` stays finite and differentiable.
        flatten: Return ``[B, C]`` (``True``) or ``[B, C, 1, 1]``.

    Example:
        >>> GeneralizedMeanPooling()(torch.ones(2, 8, 4, 2)).shape
        torch.Size([2, 8])
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6, flatten: bool = True) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor([float(p)]))
        self.eps = eps
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``[B, C, H, W]`` to ``[B, C]`` (or ``[B, C, 1, 1]``)."""
        pooled = F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1).pow(1.0 / self.p)
        return pooled.flatten(1) if self.flatten else pooled

    def extra_repr(self) -> str:
        return f"p={self.p.item():.4f}, eps={self.eps}, flatten={self.flatten}"


def use_gem_pooling(backbone: nn.Module, name: str) -> None:
    """Replace ``backbone``'s global average pooling by :class:`GeneralizedMeanPooling`, in place.

    The backbone must pool once with timm's ``SelectAdaptivePool2d`` (ResNets, EfficientNets,
    MobileNets, RegNets, ConvNeXts, OSNet...); what follows the pooling (a conv head, a norm)
    is kept.

    Raises:
        BackboneError: The backbone has no such pooling layer, several, or a non-average one.
    """
    found = [(n, m) for n, m in backbone.named_modules() if isinstance(m, SelectAdaptivePool2d)]
    if len(found) != 1 or found[0][1].pool_type not in ("avg", "fast"):
        kinds = ", ".join(f"{n} ({m.pool_type or 'none'})" for n, m in found) or "none"
        raise BackboneError(
            f"pooling='gem' cannot apply to backbone {name!r}: it replaces one global average "
            f"pooling layer (timm's SelectAdaptivePool2d), and {name!r} has: {kinds}. Use "
            "pooling='avg', or a CNN backbone (resnet50, efficientnet_b0, osnet_x1_0...)."
        )
    path, pool = found[0]
    with torch.no_grad():  # the flattening is the model's choice (a conv head wants 4-D)
        flatten = pool(torch.zeros(1, 1, 2, 2)).dim() == 2
    parent_path, _, attr = path.rpartition(".")
    parent = backbone.get_submodule(parent_path) if parent_path else backbone
    setattr(parent, attr, GeneralizedMeanPooling(flatten=flatten))
