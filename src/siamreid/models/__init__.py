"""Models: timm backbones by name, embedding heads, and the Siamese embedder."""

from siamreid.models.architectures import OSNet
from siamreid.models.backbones import BackboneDataConfig, create_backbone, similar_model_names
from siamreid.models.config import ModelConfig
from siamreid.models.embedder import ImageInput, SiameseEmbedder, load_pretrained
from siamreid.models.heads import BNNeckHead, HeadOutput
from siamreid.models.importers import PeerCheckpoint, peer_arch_names, read_peer_checkpoint
from siamreid.models.pooling import GeneralizedMeanPooling
from siamreid.models.serialization import save_pretrained
from siamreid.models.zoo import ZooEntry, zoo_entries, zoo_entry, zoo_file

__all__ = [
    "BNNeckHead",
    "BackboneDataConfig",
    "GeneralizedMeanPooling",
    "HeadOutput",
    "ImageInput",
    "ModelConfig",
    "OSNet",
    "PeerCheckpoint",
    "SiameseEmbedder",
    "ZooEntry",
    "create_backbone",
    "load_pretrained",
    "peer_arch_names",
    "read_peer_checkpoint",
    "save_pretrained",
    "similar_model_names",
    "zoo_entries",
    "zoo_entry",
    "zoo_file",
]
