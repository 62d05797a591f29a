"""configs/finetune_osnet_cpu.yaml: loads as documented and starts from a peer's checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from siamreid.errors import PretrainedWeightsError
from siamreid.runs.pipeline import build_model
from siamreid.training.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "finetune_osnet_cpu.yaml"


def test_recipe_loads_as_documented() -> None:
    recipe = load_recipe(RECIPE)
    model, trainer = recipe.model, recipe.trainer
    assert (model.backbone, model.input_size, model.num_classes) == ("osnet_x0_25", (256, 128), 0)
    assert model.weights == "osnet_x0_25_msmt17.pt"
    assert recipe.data.dataset == "folder"
    assert trainer.runtime.device == "cpu"
    assert trainer.optim.lr == 1e-4
    assert trainer.augment is not None
    assert (trainer.augment.height, trainer.augment.width) == model.input_size
    assert {t.kind for t in trainer.losses} == {"triplet", "id"}
    assert trainer.runtime.max_steps_per_epoch is not None


def test_recipe_builds_from_a_boxmot_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    peer = timm.create_model("osnet_x0_25", num_classes=4101)  # MSMT17's identities
    path = tmp_path / "osnet_x0_25_msmt17.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in peer.state_dict().items()}}, path)
    recipe = load_recipe(RECIPE, [f"model.weights={path}"])
    model = build_model(recipe)
    torch.testing.assert_close(model.backbone.conv1.conv.weight, peer.conv1.conv.weight)
    torch.testing.assert_close(model.backbone.fc[0].weight, peer.fc[0].weight)
    assert model.backbone.num_classes == 0  # the peer's classifier is dropped
    assert model.data_config.interpolation == "bilinear"


def test_recipe_without_weights_says_which_field_to_set() -> None:
    recipe = load_recipe(RECIPE, ["model.weights=null"])
    with pytest.raises(
        PretrainedWeightsError, match=r"'osnet_x0_25' has no weights.*model\.weights"
    ):
        build_model(recipe)
