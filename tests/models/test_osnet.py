"""OSNet as a timm model: parity with BoxMOT's OSNet, the timm surface, weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from torch import nn

from siamreid.errors import PretrainedWeightsError
from siamreid.models import SiameseEmbedder
from siamreid.models.architectures import ARCHITECTURES

boxmot_osnet = pytest.importorskip(
    "boxmot.reid.backbones.families.osnet", reason="parity needs boxmot (the 'all' extra)"
)

# x1.0 builds and runs in ~1 s each on one core; the smaller widths are cheaper.
PARITY = ["osnet_x0_25", "osnet_x0_5", "osnet_x0_75", "osnet_x1_0", "osnet_ibn_x1_0"]
PARITY += ["osnet_ain_x1_0", "osnet_ain_x0_25"]


def _pair(name: str, num_classes: int = 7) -> tuple[nn.Module, nn.Module]:
    """BoxMOT's model with random weights (non-trivial norms too), and ours loaded from it."""
    torch.manual_seed(0)
    ref = getattr(boxmot_osnet, name)(num_classes=num_classes, pretrained=False, loss="triplet")
    with torch.no_grad():  # the default init leaves norms at 1/0: randomise them to test them
        for module in ref.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                if module.running_mean is not None:
                    module.running_mean.uniform_(-0.1, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
    ours = timm.create_model(name, num_classes=num_classes)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


@pytest.mark.parametrize("name", PARITY)
def test_same_weights_give_boxmots_features(name: str) -> None:
    ref, ours = _pair(name)
    x = torch.randn(2, 3, 64, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref.eval(), ours.eval()
        expected = ref(x)
        got = ours.forward_head(ours.forward_features(x), pre_logits=True)
        assert (got - expected).abs().max() <= 1e-5
        ref.train(), ours.train()  # batch statistics, and the running stats they update
        logits, features = ref(x)
        got = ours.forward_head(ours.forward_features(x), pre_logits=True)  # one pass, as ref
        assert (got - features).abs().max() <= 1e-5
        assert (ours.get_classifier()(got) - logits).abs().max() <= 1e-5
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, atol=1e-6, rtol=0)


def test_every_registered_name_has_boxmots_keys() -> None:
    for name in ARCHITECTURES:
        ref = getattr(boxmot_osnet, name)(num_classes=3, pretrained=False)
        assert list(timm.create_model(name, num_classes=3).state_dict()) == list(ref.state_dict())


def test_timm_surface_without_classifier() -> None:
    net = timm.create_model("osnet_x0_25", num_classes=0)
    assert (net.num_features, net.head_hidden_size, net.num_classes) == (128, 512, 0)
    assert not any(k.startswith("classifier") for k in net.state_dict())
    x = torch.zeros(2, 3, 64, 32)
    assert net.eval()(x).shape == (2, 512)
    assert net.forward_features(x).shape == (2, 128, 4, 2)
    net.reset_classifier(5)
    assert net(x).shape == (2, 5)
    assert isinstance(net.get_classifier(), nn.Linear)
    cfg = net.pretrained_cfg
    assert cfg["input_size"] == (3, 256, 128)
    assert cfg["mean"] == timm.data.IMAGENET_DEFAULT_MEAN
    assert not cfg.get("url")
    assert not cfg.get("hf_hub_id")


def test_pretrained_without_a_file_fails_at_once() -> None:
    with pytest.raises(PretrainedWeightsError, match=r"osnet_x0_25.*weights="):
        timm.create_model("osnet_x0_25", pretrained=True)
    with pytest.raises(PretrainedWeightsError, match="no weights to download"):
        SiameseEmbedder("osnet_x0_25")  # pretrained=True by default: no 3 s hub probe either


def test_a_boxmot_checkpoint_is_a_weights_file(tmp_path: Path) -> None:
    ref, _ = _pair("osnet_x0_25", num_classes=11)  # a re-id checkpoint: 11 identities
    path = tmp_path / "osnet_x0_25_market.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    model = SiameseEmbedder("osnet_x0_25", weights=path, seed=0).eval()
    torch.testing.assert_close(model.backbone.conv1.conv.weight, ref.conv1.conv.weight)
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x), ref.eval()(x))
    assert model.data_config.interpolation == "bilinear"
