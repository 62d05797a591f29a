"""Models: timm backbones by name, embedding heads, and the Siamese embedder."""

from siamreid.models.backbones import BackboneDataConfig, create_backbone, similar_model_names
from siamreid.models.embedder import ImageInput, ModelConfig, SiameseEmbedder
from siamreid.models.heads import BNNeckHead, HeadOutput

__all__ = [
    "BNNeckHead",
    "BackboneDataConfig",
    "HeadOutput",
    "ImageInput",
    "ModelConfig",
    "SiameseEmbedder",
    "create_backbone",
    "similar_model_names",
]
