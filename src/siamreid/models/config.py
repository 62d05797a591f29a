"""How to build a :class:`~siamreid.models.SiameseEmbedder`: a leaf module, no model code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from siamreid.errors import ConfigError
from siamreid.typing import Metric

__all__ = ["ModelConfig", "Pooling"]

#: Global pooling of the backbone's feature map: its own average, or generalized mean (GeM).
Pooling = Literal["avg", "gem"]


@dataclass(frozen=True)
class ModelConfig:
    """How to build a :class:`SiameseEmbedder`.

    Attributes:
        backbone: timm model name.
        embedding_dim: Embedding width.
        pretrained: Start from timm's ImageNet weights (downloaded from the Hugging Face hub).
        weights: Local ImageNet weights file for the backbone; outranks the hub.
        num_classes: Width of the identity classifier on the BNNeck (0: none).
        input_size: ``(height, width)`` of the network input.
        normalize: L2-normalise embeddings, so Euclidean distance ranks like cosine.
        drop_path_rate: Stochastic depth for backbones that support it.
        pooling: ``"avg"``: the backbone's global average pooling; ``"gem"``: generalized-mean
            pooling with a learnable exponent in its place (CNN backbones).
        last_stride: ``1``: the last stage of a ResNet-style backbone stops downsampling (a
            16x8 final map for 256x128 input, the strong baseline's choice); ``None``: as built.
    """

    backbone: str = "efficientnet_b0"
    embedding_dim: int = 512
    pretrained: bool = True
    weights: str | None = None
    num_classes: int = 0
    input_size: tuple[int, int] = (256, 128)
    normalize: bool = True
    drop_path_rate: float | None = None
    pooling: Pooling = "avg"
    last_stride: Literal[1] | None = None

    def __post_init__(self) -> None:
        if not self.backbone:
            raise ConfigError("ModelConfig.backbone is empty: give a timm model name.")
        if self.embedding_dim <= 0:
            raise ConfigError(f"ModelConfig.embedding_dim must be > 0, got {self.embedding_dim}.")
        if self.num_classes < 0:
            raise ConfigError(f"ModelConfig.num_classes must be >= 0, got {self.num_classes}.")
        size = tuple(self.input_size)
        if len(size) != 2 or min(size) < 16:
            raise ConfigError(
                "ModelConfig.input_size must be (height, width), each >= 16; "
                f"got {self.input_size}."
            )
        object.__setattr__(self, "input_size", (int(size[0]), int(size[1])))
        if self.pooling not in get_args(Pooling):
            raise ConfigError(
                f"ModelConfig.pooling must be one of {get_args(Pooling)}, got {self.pooling!r}."
            )
        if self.last_stride not in (None, 1):
            raise ConfigError(
                "ModelConfig.last_stride must be 1 (the re-id last-stride trick) or None (the "
                f"backbone as built), got {self.last_stride!r}."
            )

    @property
    def metric(self) -> Metric:
        """How this model's embeddings are compared: ``"cosine"`` when they are L2-normalised
        (Euclidean distance between unit vectors ranks as cosine does), else ``"euclidean"``.

        The one copy of the rule: indexes, exports and saved models all record it from here.
        """
        return "cosine" if self.normalize else "euclidean"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        out = asdict(self)
        out["input_size"] = list(self.input_size)
        return out
