"""training/config.py (test_config.py is data/config.py's): each group checks its own fields."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from siamreid.errors import ConfigError
from siamreid.training.config import (
    MOVED_KEYS,
    OptimConfig,
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    TrainerConfig,
    moved_key_message,
)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SamplingConfig(kind="pq"), r"SamplingConfig\.kind is 'pq'"),  # type: ignore[arg-type]
        (lambda: SamplingConfig(k=1), r"SamplingConfig\.k must be >= 2 with kind='pk'"),
        (lambda: SamplingConfig(p=0), r"SamplingConfig\.p must be > 0"),
        (lambda: OptimConfig(lr=0.0), r"OptimConfig\.lr must be > 0"),
        (lambda: OptimConfig(weight_decay=-1.0), r"OptimConfig\.weight_decay must be >= 0"),
        (lambda: OptimConfig(grad_clip=0.0), r"OptimConfig\.grad_clip must be > 0"),
        (lambda: ScheduleConfig(warmup_factor=0.0), r"ScheduleConfig\.warmup_epochs must be"),
        (lambda: RuntimeConfig(precision="fp8"), r"RuntimeConfig\.precision is 'fp8'"),  # type: ignore[arg-type]
        (lambda: RuntimeConfig(num_workers=-1), r"RuntimeConfig\.num_workers must be >= 0"),
        (lambda: OutputConfig(resume=True), r"OutputConfig\.resume=True needs out_dir"),
        (lambda: OutputConfig(keep_checkpoints=0), r"OutputConfig\.keep_checkpoints must be"),
        (lambda: TrainerConfig(epochs=0), r"TrainerConfig\.epochs must be > 0"),
        (lambda: TrainerConfig(seed=True), r"TrainerConfig\.seed must be an integer"),
        (lambda: TrainerConfig(losses=()), r"TrainerConfig\.losses is empty"),
    ],
)
def test_each_group_refuses_its_bad_values_by_name(build: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()  # type: ignore[operator]


def test_triplet_sampling_needs_no_positives_per_identity() -> None:
    assert SamplingConfig(kind="triplet", k=1).k == 1


def test_groups_compose_and_replace_independently() -> None:
    config = TrainerConfig(optim=OptimConfig(lr=1e-3))
    assert (config.optim.lr, config.sampling.p, config.schedule.kind) == (1e-3, 16, "step")
    faster = replace(config, runtime=replace(config.runtime, precision="bf16"))
    assert faster.optim == config.optim
    assert faster.runtime.precision == "bf16"
    assert ScheduleConfig(milestones=[3, 5]).milestones == (3, 5)  # type: ignore[arg-type]


def test_every_flat_key_has_a_real_new_place() -> None:
    config = TrainerConfig()
    for old, new in MOVED_KEYS.items():
        group, name = new.split(".")
        assert name in {f.name for f in fields(getattr(config, group))}, (old, new)
        assert not hasattr(config, old)


def test_a_flat_keyword_is_refused_with_its_new_place() -> None:
    with pytest.raises(ConfigError, match=r"TrainerConfig\.lr -> TrainerConfig\.optim\.lr"):
        TrainerConfig(lr=0.1)  # type: ignore[call-arg]
    message = moved_key_message(["epochs", "p", "device"], "trainer", "see the configs")
    assert message is not None
    assert "trainer.p -> trainer.sampling.p, trainer.device -> trainer.runtime.device" in message
    assert "trainer.epochs" not in message  # still a top-level field
    assert moved_key_message(["epochs", "typo"], "trainer", "") is None
