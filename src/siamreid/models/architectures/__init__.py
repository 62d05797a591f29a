"""Re-id architectures timm lacks, written as timm models and registered by name.

Importing this package registers them with ``timm.models.register_model``: afterwards
``timm.create_model("osnet_x0_25", num_classes=0)`` and ``SiameseEmbedder("osnet_x0_25")``
build them like any timm backbone. A new architecture is one module here, imported below.
"""

from siamreid.models.architectures import mobilenetv2_torchreid, osnet_ain
from siamreid.models.architectures.osnet import OSNet, OSNetArch

#: The OSNet names this package registers with timm (besides ``mobilenetv2_100_torchreid``).
ARCHITECTURES: tuple[str, ...] = (
    "osnet_x1_0",
    "osnet_x0_75",
    "osnet_x0_5",
    "osnet_x0_25",
    "osnet_ibn_x1_0",
    "osnet_ain_x1_0",
    "osnet_ain_x0_75",
    "osnet_ain_x0_5",
    "osnet_ain_x0_25",
)

__all__ = ["ARCHITECTURES", "OSNet", "OSNetArch", "mobilenetv2_torchreid", "osnet_ain"]
