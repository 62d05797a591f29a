"""The quick CPU training settings every training test starts from (see the ``quick_config``
fixture in ``tests/conftest.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from siamreid.training.config import (
    OptimConfig,
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    TrainerConfig,
)

#: One epoch of one P=4 x K=2 batch at a constant learning rate, on the CPU in the test process
#: (no workers), without a progress bar.
QUICK_CONFIG = TrainerConfig(
    epochs=1,
    sampling=SamplingConfig(p=4, k=2),
    optim=OptimConfig(lr=1e-3),
    schedule=ScheduleConfig(kind="constant", warmup_epochs=0),
    runtime=RuntimeConfig(device="cpu", num_workers=0, max_steps_per_epoch=1),
    output=OutputConfig(progress=False),
)


def quick_config(
    out_dir: str | os.PathLike[str] | None = None,
    *,
    steps: int = 1,
    resume: bool = False,
    **fields: Any,
) -> TrainerConfig:
    """:data:`QUICK_CONFIG` writing into ``out_dir``, with ``steps`` batches an epoch and whole
    fields replaced (``epochs=2``, ``sampling=SamplingConfig(p=4, k=4)``...)."""
    config = replace(QUICK_CONFIG, **fields)
    return replace(
        config,
        runtime=replace(config.runtime, max_steps_per_epoch=steps),
        output=replace(
            config.output, out_dir=None if out_dir is None else str(out_dir), resume=resume
        ),
    )


#: The type of the ``quick_config`` fixture (the function above).
QuickConfig = Callable[..., TrainerConfig]
