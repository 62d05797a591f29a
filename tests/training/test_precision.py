"""The Trainer's GPU path checked on the CPU: bf16, channels_last, torch.compile, fp16 scaling.

``benchmarks/bench_gpu.py`` times these settings on a GPU; here each one is shown to do what it
says on a tiny network (timm's ``test_efficientnet``: convolutions, depthwise convolutions,
BatchNorm, like EfficientNet-B0), one training step at a time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn

from quick_training import QUICK_CONFIG
from siamreid.data.samples import ReidSplits
from siamreid.data.torch_data import ReidImageDataset
from siamreid.data.transforms import build_train_transform
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer
from siamreid.training.loaders import make_loader, plan_epoch
from siamreid.training.recipe import load_recipe

BACKBONE = "test_efficientnet"
SIZE = (64, 32)
RECIPE = Path(__file__).resolve().parents[2] / "configs" / "market1501_efficientnet_b0.yaml"


def _trainer(splits: ReidSplits, **runtime: Any) -> Trainer:
    """One quick step with the given :class:`RuntimeConfig` fields (precision, compile...)."""
    torch.manual_seed(0)
    model = SiameseEmbedder(
        BACKBONE, 32, pretrained=False, num_classes=splits.num_train_pids, input_size=SIZE
    )
    config = replace(
        QUICK_CONFIG,
        runtime=replace(QUICK_CONFIG.runtime, **runtime),
    )
    return Trainer(model, config)


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    """Trainable parameters (the BNNeck's bias is frozen by design)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def _changed(model: nn.Module, before: dict[str, torch.Tensor]) -> set[str]:
    params = dict(model.named_parameters())
    return {name for name, p in before.items() if not torch.equal(params[name], p)}


@pytest.mark.parametrize(
    ("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)]
)
def test_precision_sets_the_autocast_dtype_and_a_step_learns(
    synthetic_splits: ReidSplits, precision: str, dtype: torch.dtype
) -> None:
    trainer = _trainer(synthetic_splits, precision=precision)
    seen: list[torch.dtype] = []
    trainer.model.backbone.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    before = _params(trainer.model)
    history = trainer.fit(synthetic_splits.train)
    assert seen == [dtype]  # the backbone ran once, under autocast for bf16
    assert math.isfinite(history[0].train_loss)
    assert history[0].skipped_batches == 0
    assert _changed(trainer.model, before) == set(before)  # Adam moved every parameter
    # Autocast computes in bf16 but the weights (and optimizer state) stay float32.
    assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}


def test_channels_last_reaches_weights_and_inputs(synthetic_splits: ReidSplits) -> None:
    trainer = _trainer(synthetic_splits, channels_last=True, precision="bf16")
    convs = [m for m in trainer.model.modules() if isinstance(m, nn.Conv2d)]
    assert convs
    # A 1x1 or depthwise kernel is contiguous in both layouts; the stem's 3x3x3 kernel is not.
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert any(not c.weight.is_contiguous() for c in convs)
    inputs: list[torch.Tensor] = []
    convs[0].register_forward_pre_hook(lambda _m, args: inputs.append(args[0]))
    before = _params(trainer.model)
    history = trainer.fit(synthetic_splits.train)
    assert len(inputs) == 1
    assert inputs[0].is_contiguous(memory_format=torch.channels_last)
    assert not inputs[0].is_contiguous()
    assert math.isfinite(history[0].train_loss)
    assert _changed(trainer.model, before) == set(before)
    # The optimizer updates in place: the layout survives the step.
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)


def _counting_backend(graphs: list[torch.fx.GraphModule]) -> Callable[..., Any]:
    """A torch.compile backend that records each captured graph and runs it as captured.

    Inductor's C++ code generation takes minutes on two shared cores; the graph capture that
    decides whether the Trainer's forward compiles at all is the same with any backend.
    """

    def backend(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Any:
        graphs.append(gm)
        return gm.forward

    return backend


def test_compile_captures_the_training_forward_and_matches_eager(
    synthetic_splits: ReidSplits, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch._dynamo.reset()
    graphs: list[torch.fx.GraphModule] = []
    compile_ = functools.partial(torch.compile, backend=_counting_backend(graphs))
    monkeypatch.setattr(torch, "compile", compile_)
    compiled = _trainer(synthetic_splits, compile=True)
    assert isinstance(compiled.net, torch._dynamo.eval_frame.OptimizedModule)
    eager = _trainer(synthetic_splits, compile=False)
    loss_c = compiled.fit(synthetic_splits.train)[0].train_loss
    loss_e = eager.fit(synthetic_splits.train)[0].train_loss
    assert graphs  # the forward went through dynamo, not around it
    assert loss_c == pytest.approx(loss_e, rel=1e-5)
    for (name, p_c), p_e in zip(
        compiled.model.named_parameters(), eager.model.parameters(), strict=True
    ):
        torch.testing.assert_close(p_c, p_e, rtol=1e-4, atol=1e-6, msg=name)
    torch._dynamo.reset()


def test_compile_with_bf16_and_channels_last_runs(
    synthetic_splits: ReidSplits, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch._dynamo.reset()
    graphs: list[torch.fx.GraphModule] = []
    monkeypatch.setattr(
        torch, "compile", functools.partial(torch.compile, backend=_counting_backend(graphs))
    )
    trainer = _trainer(synthetic_splits, compile=True, precision="bf16", channels_last=True)
    before = _params(trainer.model)
    history = trainer.fit(synthetic_splits.train)
    assert graphs
    # Autocast is entered outside the compiled module: the captured graph must carry it.
    dtypes = {
        value.dtype
        for gm in graphs
        for node in gm.graph.nodes
        if isinstance(value := node.meta.get("example_value"), torch.Tensor)
    }
    assert torch.bfloat16 in dtypes
    assert math.isfinite(history[0].train_loss)
    assert _changed(trainer.model, before) == set(before)
    torch._dynamo.reset()


@pytest.mark.parametrize(
    ("init_scale", "stepped"),
    [(2.0**100, False), (1.0, True)],  # 2**100 overflows fp16 gradients; 1.0 does not
)
def test_fp16_grad_scaler_skips_overflowing_steps(
    synthetic_splits: ReidSplits, init_scale: float, stepped: bool
) -> None:
    trainer = _trainer(synthetic_splits, precision="fp16")
    assert trainer.scaler.is_enabled()
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=1000)
    before = _params(trainer.model)
    history = trainer.fit(synthetic_splits.train)
    assert math.isfinite(history[0].train_loss)  # the loss itself is fine: only gradients blow
    if stepped:
        assert trainer.scaler.get_scale() == init_scale
        assert _changed(trainer.model, before) == set(before)
        assert trainer.optimizer.state
    else:
        assert trainer.scaler.get_scale() == init_scale / 2  # backed off
        assert _changed(trainer.model, before) == set()  # the step was skipped
        assert not trainer.optimizer.state  # Adam never stepped


def test_fp32_and_bf16_have_no_scaler(synthetic_splits: ReidSplits) -> None:
    for precision in ("fp32", "bf16"):
        assert not _trainer(synthetic_splits, precision=precision).scaler.is_enabled()


@functools.cache
def _recipe_data_config() -> tuple[tuple[float, ...], tuple[float, ...], str]:
    """EfficientNet-B0's mean, std and interpolation, as the recipe's model resolves them."""
    data = SiameseEmbedder.from_config(load_recipe(RECIPE).model, pretrained=False).data_config
    return tuple(data.mean), tuple(data.std), data.interpolation


def _recipe_batch(splits: ReidSplits, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    recipe = load_recipe(RECIPE)
    augment = recipe.trainer.augment
    assert augment is not None
    mean, std, interpolation = _recipe_data_config()
    transform = build_train_transform(augment, mean, std, interpolation)
    sampling = replace(recipe.trainer.sampling, p=4, k=4)
    plan = plan_epoch([s.pid for s in splits.train], sampling, epoch=0, seed=seed, max_steps=1)
    loader = make_loader(
        ReidImageDataset(splits.train, transform), plan, num_workers=0, pin_memory=False
    )
    images, labels, _ = next(iter(loader))
    return images, labels


def test_recipe_input_pipeline_gives_seeded_256x128_batches(synthetic_splits: ReidSplits) -> None:
    recipe = load_recipe(RECIPE)
    assert recipe.model.input_size == (256, 128)
    with Image.open(synthetic_splits.train[0].path) as img:
        assert img.size == (64, 128)  # 128x64 JPEG crops, as in Market-1501
    images, labels = _recipe_batch(synthetic_splits, seed=0)
    assert images.shape == (16, 3, 256, 128)
    assert images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert sorted(labels.bincount()[labels.unique()].tolist()) == [4, 4, 4, 4]  # P=4 x K=4
    assert -1.5 < float(images.mean()) < 1.5  # normalised with the backbone's mean and std
    again, _ = _recipe_batch(synthetic_splits, seed=0)
    assert torch.equal(images, again)
    other, _ = _recipe_batch(synthetic_splits, seed=1)
    assert not torch.equal(images, other)
