"""Backbones by name: unknown names, local weights files, input sizes, offline failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from siamreid.errors import BackboneError, PretrainedWeightsError
from siamreid.models import SiameseEmbedder, backbones
from siamreid.models.backbones import backbone_data_config, create_backbone


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(BackboneError, match=r"efficientnet_b0"):
        create_backbone("efficientnet_bo")


def test_pooled_features_and_data_config() -> None:
    net = create_backbone("test_efficientnet")
    out = net(torch.zeros(2, 3, 64, 32))
    assert out.shape == (2, net.num_features)
    cfg = backbone_data_config(net)
    assert cfg.mean == pytest.approx(net.pretrained_cfg["mean"])
    assert cfg.interpolation == net.pretrained_cfg["interpolation"]


def test_local_weights_file_is_loaded(tmp_path: Path) -> None:
    source = timm.create_model("test_efficientnet", pretrained=False)  # with its classifier
    torch.nn.init.normal_(source.conv_stem.weight)
    path = tmp_path / "test_efficientnet.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    net = create_backbone("test_efficientnet", weights=path)
    torch.testing.assert_close(net.conv_stem.weight, source.conv_stem.weight)
    assert net.num_classes == 0


def test_fixed_size_transformer_takes_the_reid_input_size(tmp_path: Path) -> None:
    source = timm.create_model("test_vit", pretrained=False)  # built for its square default size
    default = source.pretrained_cfg["input_size"][1:]
    assert default[0] == default[1]
    path = tmp_path / "test_vit.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    net = create_backbone("test_vit", weights=path, img_size=(64, 32))
    assert net(torch.zeros(2, 3, 64, 32)).shape == (2, net.num_features)
    grid = (64 // 16) * (32 // 16)
    assert net.pos_embed.shape[1] == grid + net.num_prefix_tokens  # resampled, not the default
    torch.testing.assert_close(net.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)


def test_img_size_leaves_convolutional_backbones_alone() -> None:
    net = create_backbone("test_efficientnet", img_size=(64, 32))  # no img_size argument
    assert net(torch.zeros(1, 3, 96, 48)).shape == (1, net.num_features)


def test_pre_logits_head_width_is_the_pooled_width(
    tiny_model_factory: Callable[..., SiameseEmbedder],
) -> None:
    model = tiny_model_factory("mobilenetv3_small_050")
    assert model.head.proj.in_features == model.backbone.head_hidden_size
    assert model(torch.zeros(2, 3, 64, 32)).shape == (2, 16)


def test_missing_or_foreign_weights_file(tmp_path: Path) -> None:
    with pytest.raises(PretrainedWeightsError, match="does not exist"):
        create_backbone("test_efficientnet", weights=tmp_path / "nope.safetensors")
    other = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    with pytest.raises(PretrainedWeightsError, match="does not fit"):
        create_backbone("test_efficientnet", weights=path)


def test_offline_pretrained_fails_fast_with_both_ways_out(monkeypatch: pytest.MonkeyPatch) -> None:
    probes: list[str] = []
    downloads: list[str] = []

    def unreachable() -> bool:
        probes.append("probe")
        return False

    def download(*args: object, **kwargs: object) -> object:
        downloads.append("timm")
        raise AssertionError("timm was asked to download against an unreachable hub")

    monkeypatch.setattr(backbones, "_weights_cached", lambda name: False)
    monkeypatch.setattr(backbones, "hub_reachable", unreachable)
    monkeypatch.setattr(backbones.timm, "create_model", download)
    with pytest.raises(PretrainedWeightsError) as info:
        create_backbone("test_efficientnet", pretrained=True)
    assert probes == ["probe"]  # one quick probe, no retry loop
    assert downloads == []  # timm (and its ~45 s of retries) never ran
    message = str(info.value)
    assert "weights=" in message
    assert "pretrained=False" in message
    assert "test_efficientnet" in message
