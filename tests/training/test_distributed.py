"""DDP through torchrun with gloo on CPU trains the same model as one process on the same batch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from siamreid.losses import LossTermConfig, build_loss
from siamreid.models import SiameseEmbedder
from siamreid.training.checkpoint import find_latest

_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from siamreid.data.datasets.market1501 import Market1501
    from siamreid.models import SiameseEmbedder
    from siamreid.training import (
        OptimConfig, OutputConfig, RuntimeConfig, SamplingConfig, ScheduleConfig, Trainer,
        TrainerConfig,
    )

    root, out = sys.argv[1:3]
    torch.set_num_threads(1)
    splits = Market1501(root).load()
    torch.manual_seed(0)
    model = SiameseEmbedder("resnet18", 32, pretrained=False,
                            num_classes=splits.num_train_pids, input_size=(64, 32))
    if "--float64" in sys.argv:
        # float32 rounding differs between one and two processes (sums are split differently)
        # and from-scratch training amplifies it step by step; in float64 the two runs must agree
        # to rounding, which checks the data split, seeds, gathering and batch norm exactly.
        model.double()
        forward_train = model.forward_train
        model.forward_train = lambda images: forward_train(images.double())
    # SGD, not Adam: Adam rescales near-zero gradients, which turns float rounding noise
    # between the two runs into lr-sized weight differences.
    losses = {}
    if "--arcface" in sys.argv:  # the loss's own class weights live outside DDP
        from siamreid.losses import LossTermConfig
        losses = {"losses": (LossTermConfig("triplet"), LossTermConfig("arcface"))}
    cfg = TrainerConfig(
        **losses,
        epochs=2,
        sampling=SamplingConfig(p=4, k=2),
        optim=OptimConfig(kind="sgd", lr=0.05),
        schedule=ScheduleConfig(kind="constant", warmup_epochs=0),
        runtime=RuntimeConfig(max_steps_per_epoch=2, num_workers=0),
        output=OutputConfig(progress=False, out_dir=out),
    )
    Trainer(model, cfg).fit(splits.train)
    """
)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    latest = find_latest(run / "checkpoints")
    assert latest is not None
    return load_file(str(latest / "model.safetensors"))


def _train(tmp: Path, root: Path, out: Path, processes: int, *extra: str) -> None:
    """Run the training script directly (one process) or under torchrun with gloo."""
    script = tmp / "train.py"
    script.write_text(_SCRIPT)
    if processes == 1:
        launcher = [sys.executable]
    else:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
        assert torchrun is not None
        launcher = [torchrun, "--standalone", f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*launcher, str(script), str(root), str(out), *extra]
    subprocess.run(cmd, env=env, check=True, timeout=600)


@pytest.mark.slow
def test_two_gloo_processes_match_one(synthetic_root: Path, tmp_path: Path) -> None:
    single, double = tmp_path / "single", tmp_path / "double"
    _train(tmp_path, synthetic_root, single, 1, "--float64")
    _train(tmp_path, synthetic_root, double, 2, "--float64")
    one, two = _weights(single), _weights(double)
    assert one.keys() == two.keys()
    assert one["backbone.conv1.weight"].dtype == torch.float64  # the float64 run really ran
    for name, tensor in one.items():
        assert tensor.dtype == two[name].dtype, name
        if tensor.is_floating_point():
            diff = float((two[name] - tensor).abs().max())
            assert diff < 1e-9, (name, diff)  # float64 rounding is ~1e-14 here
        else:
            assert torch.equal(two[name], tensor), name
    torch.manual_seed(0)
    initial = SiameseEmbedder(
        "resnet18",
        32,
        pretrained=False,
        num_classes=one["head.classifier.weight"].shape[0],
        input_size=(64, 32),
    ).state_dict()
    change = max(
        float((one[k] - initial[k]).abs().max()) for k in one if one[k].is_floating_point()
    )
    assert change > 1e-3  # both runs really trained


@pytest.mark.slow
def test_loss_weights_outside_ddp_train_as_in_one_process(
    synthetic_root: Path, tmp_path: Path
) -> None:
    """Every process computes ArcFace's whole gradient on the gathered batch; without undoing
    the world-size scaling of the loss, two processes would step its weights twice as far."""
    single, double = tmp_path / "single", tmp_path / "double"
    _train(tmp_path, synthetic_root, single, 1, "--float64", "--arcface")
    _train(tmp_path, synthetic_root, double, 2, "--float64", "--arcface")
    one, two = (_loss_state(run)["terms.arcface.loss.W"] for run in (single, double))
    dim, classes = one.shape
    fresh = build_loss([LossTermConfig("arcface")], num_classes=classes, embedding_dim=dim)
    assert float((one - fresh.state_dict()["terms.arcface.loss.W"]).abs().max()) > 1e-4
    diff = float((two - one).abs().max())
    assert diff < 1e-5, diff  # float32 inside the loss; doubled steps would differ far more


def _loss_state(run: Path) -> dict[str, torch.Tensor]:
    latest = find_latest(run / "checkpoints")
    assert latest is not None
    state = torch.load(latest / "state.pt", map_location="cpu", weights_only=True)
    return dict(state["loss"])


@pytest.mark.slow
def test_torchrun_gloo_trains_and_only_rank0_writes(synthetic_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "double"
    _train(tmp_path, synthetic_root, run, processes=2)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # one writer: rank 0 appended each epoch once
    weights = _weights(run)
    assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


@pytest.mark.slow
def test_torchrun_siamreid_train_reports_once(tmp_path: Path) -> None:
    """``torchrun -m siamreid train``: rank 0 alone generates the data, evaluates and reports."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    config = Path(__file__).resolve().parents[2] / "configs" / "market1501_efficientnet_b0.yaml"
    out = tmp_path / "run"
    overrides = [
        "data.dataset=synthetic",
        f"data.root={tmp_path / 'data'}",
        "data.synthetic_train_ids=8",
        "data.synthetic_test_ids=6",
        "model.backbone=resnet18",
        "model.pretrained=false",
        "model.embedding_dim=32",
        "model.input_size=[64, 32]",
        "trainer.augment={height: 64, width: 32}",
        "trainer.epochs=1",
        "trainer.sampling.p=4",
        "trainer.sampling.k=2",
        "trainer.runtime.max_steps_per_epoch=2",
        "trainer.schedule.warmup_epochs=0",
        "trainer.runtime.precision=fp32",
        "trainer.runtime.channels_last=false",
        "trainer.runtime.num_workers=0",
        "trainer.output.progress=false",
    ]
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "siamreid", "train"]
    cmd += ["--config", str(config), "--out", str(out), *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, check=True, timeout=600, capture_output=True, text=True)
    assert done.stdout.count("before training:") == 1, done.stdout
    assert done.stdout.count("after training:") == 1, done.stdout
    assert not (tmp_path / "data" / "Market-1501-v15.09.15.partial").exists()
    for name in ("metrics.json", "recipe.yaml", "ranked.png", "model/config.json"):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "train" / "metrics.jsonl").read_text().splitlines()) == 1
