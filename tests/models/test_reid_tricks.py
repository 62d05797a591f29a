"""The re-id tricks of ModelConfig: GeM pooling and last stride 1, built, checked and saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from siamreid.errors import BackboneError, ConfigError
from siamreid.models import GeneralizedMeanPooling, ModelConfig, SiameseEmbedder
from siamreid.models.serialization import CONFIG_FILE
from siamreid.training.recipe import recipe_from_dict

SIZE = (64, 32)


def _model(backbone: str = "test_resnet", seed: int = 0, **kwargs: object) -> SiameseEmbedder:
    return SiameseEmbedder(backbone, 16, pretrained=False, input_size=SIZE, seed=seed, **kwargs)


def test_gem_is_the_generalized_mean() -> None:
    x = torch.rand(2, 5, 4, 3, generator=torch.Generator().manual_seed(0)) + 0.1
    pool = GeneralizedMeanPooling(p=2.5)
    expected = (x**2.5).mean(dim=(2, 3)) ** (1 / 2.5)  # the formula, written out
    torch.testing.assert_close(pool(x), expected)
    torch.testing.assert_close(GeneralizedMeanPooling(p=1.0)(x), x.mean(dim=(2, 3)))
    assert GeneralizedMeanPooling(flatten=False)(x).shape == (2, 5, 1, 1)
    pool(x).sum().backward()
    assert pool.p.grad is not None
    assert pool.p.grad.abs().item() > 0


def test_gem_takes_the_place_of_the_backbones_pooling() -> None:
    model = _model(pooling="gem")
    assert isinstance(model.backbone.global_pool, GeneralizedMeanPooling)
    assert "backbone.global_pool.p" in model.state_dict()
    x = torch.rand(2, 3, *SIZE)
    before = model.eval()(x)
    with torch.no_grad():
        model.backbone.global_pool.p.fill_(1.0)  # p=1 is the average pooling it replaced
    plain = _model().eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if ".p" not in k[-2:]})
    torch.testing.assert_close(model(x), plain(x), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(before, model(x))


def test_gem_keeps_a_conv_heads_4d_input() -> None:
    model = _model("test_convnext", pooling="gem")  # ConvNeXt pools in head.global_pool
    assert isinstance(model.backbone.head.global_pool, GeneralizedMeanPooling)
    assert not model.backbone.head.global_pool.flatten
    assert model.eval().embed(torch.rand(2, 3, *SIZE)).shape == (2, 16)


def test_gem_refuses_a_backbone_without_average_pooling() -> None:
    with pytest.raises(BackboneError, match=r"pooling='gem' cannot apply to backbone 'test_vit'"):
        _model("test_vit", pooling="gem")


def test_last_stride_one_doubles_the_final_map_and_keeps_the_weights() -> None:
    plain, tricked = _model(), _model(last_stride=1)
    x = torch.rand(2, 3, *SIZE)
    assert plain.backbone.forward_features(x).shape[-2:] == (2, 1)
    assert tricked.backbone.forward_features(x).shape[-2:] == (4, 2)
    tricked.load_state_dict(plain.state_dict(), strict=True)  # no weight changed shape
    assert tricked.eval()(x).shape == (2, 16)


@pytest.mark.parametrize("backbone", ["test_efficientnet", "osnet_x0_25"])
def test_last_stride_refuses_what_is_not_a_resnet(backbone: str) -> None:
    with pytest.raises(
        BackboneError, match=rf"last_stride=1 cannot apply to backbone '{backbone}'"
    ):
        _model(backbone, last_stride=1)


def test_config_checks_the_fields() -> None:
    with pytest.raises(ConfigError, match="pooling"):
        ModelConfig(pooling="max")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="last_stride"):
        ModelConfig(last_stride=2)  # type: ignore[arg-type]
    recipe = recipe_from_dict({"model": {"pooling": "gem", "last_stride": 1}})
    assert (recipe.model.pooling, recipe.model.last_stride) == ("gem", 1)
    with pytest.raises(ConfigError, match=r"model\.last_stride"):
        recipe_from_dict({"model": {"last_stride": True}})


def test_saved_with_the_model(tmp_path: Path) -> None:
    model = _model(pooling="gem", last_stride=1)
    with torch.no_grad():
        model.backbone.global_pool.p.fill_(4.25)  # as if learned
        model.train()(torch.rand(8, 3, *SIZE))  # non-trivial BatchNorm statistics
    model.save_pretrained(tmp_path)
    record = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert (record["pooling"], record["last_stride"]) == ("gem", 1)
    loaded = SiameseEmbedder.from_pretrained(tmp_path)
    assert (loaded.config.pooling, loaded.config.last_stride) == ("gem", 1)
    x = torch.rand(3, 3, *SIZE)
    torch.testing.assert_close(loaded(x), model.eval()(x), atol=0, rtol=0)


def test_a_model_saved_before_the_tricks_loads_plain(tmp_path: Path) -> None:
    _model().save_pretrained(tmp_path)
    path = tmp_path / CONFIG_FILE
    record = json.loads(path.read_text())
    del record["pooling"], record["last_stride"]
    path.write_text(json.dumps(record))
    loaded = SiameseEmbedder.from_pretrained(tmp_path)
    assert (loaded.config.pooling, loaded.config.last_stride) == ("avg", None)
