"""Models: timm backbones by name, embedding heads, and the Siamese embedder."""

from siamreid.models.architectures import OSNet
from siamreid.models.backbones import BackboneDataConfig, create_backbone, similar_model_names
from siamreid.models.config import ModelConfig
from siamreid.models.embedder import ImageInput, SiameseEmbedder, load_pretrained
from siamreid.models.heads import BNNeckHead, HeadOutput
from siamreid.models.pooling import GeneralizedMeanPooling
from siamreid.models.serialization import save_pretrained

__all__ = [
    "BNNeckHead",
    "BackboneDataConfig",
    "GeneralizedMeanPooling",
    "HeadOutput",
    "ImageInput",
    "ModelConfig",
    "OSNet",
    "SiameseEmbedder",
    "create_backbone",
    "load_pretrained",
    "save_pretrained",
    "similar_model_names",
]
