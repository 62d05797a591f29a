"""Training configuration: a frozen dataclass with validated fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from siamreid.data.transforms import TransformConfig
from siamreid.errors import ConfigError
from siamreid.losses import LossTermConfig

__all__ = ["Precision", "TrainerConfig", "default_losses"]

Precision = Literal["fp32", "bf16", "fp16"]


def default_losses() -> tuple[LossTermConfig, ...]:
    """The strong-baseline loss: batch-hard triplet (margin 0.3) + label-smoothed identity CE."""
    return (
        LossTermConfig(kind="triplet", margin=0.3, miner="batch_hard", distance="euclidean"),
        LossTermConfig(kind="id", label_smoothing=0.1),
    )


def _positive(name: str, value: float | int) -> None:
    if value <= 0:
        raise ConfigError(f"TrainerConfig.{name} must be > 0, got {value}.")


def _choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"TrainerConfig.{name} is {value!r}; expected one of {list(choices)}.")


@dataclass(frozen=True)
class TrainerConfig:
    """Everything the :class:`~siamreid.Trainer` loop needs besides the model and the data.

    Attributes:
        epochs: Training epochs.
        sampler: ``"pk"`` (P identities x K images per batch, mined triplets) or ``"triplet"``
            (the original Siamese formulation: random anchor/positive/negative triplets).
        p: Identities per PK batch (global, across processes).
        k: Images per identity in a PK batch.
        triplets_per_batch: Triplets per batch with ``sampler="triplet"``.
        losses: The weighted loss terms.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        lr: Peak learning rate.
        weight_decay: Weight decay.
        momentum: SGD momentum.
        scheduler: ``"step"`` (x ``gamma`` at each milestone epoch), ``"cosine"`` or ``"constant"``.
        milestones: Epochs at which the step scheduler decays.
        gamma: Step decay factor.
        warmup_epochs: Linear warm-up epochs from ``warmup_factor * lr``.
        warmup_factor: Starting fraction of the learning rate during warm-up.
        augment: Train-time augmentation; ``None`` takes the defaults at the model's input size.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; GradScaler for fp16).
        channels_last: Use the channels-last memory format (faster convolutions on GPUs).
        compile: Wrap the model in ``torch.compile``.
        grad_clip: Clip the gradient norm to this value (``None``: no clipping).
        device: ``"cuda"``, ``"mps"``, ``"cpu"``, ``"cuda:1"``... ``None`` picks CUDA, MPS, CPU.
        num_workers: DataLoader workers; ``None`` chooses from the machine.
        seed: Seed of sampling, augmentation and initialisation order.
        max_steps_per_epoch: Cap on the steps of one epoch (quick runs, tests).
        eval_every: Validate every this many epochs (and after the last).
        on_nan: ``"raise"`` stops on a non-finite loss; ``"skip_batch"`` skips the batch.
        out_dir: Folder for checkpoints, ``metrics.jsonl`` and the resolved config
            (``None``: nothing written).
        resume: Continue from the last complete checkpoint in ``out_dir``.
        keep_checkpoints: How many epoch checkpoints to keep.
        progress: Show a tqdm progress bar.
        tensorboard: Write TensorBoard scalars to ``out_dir/tensorboard``: ``None`` when the
            ``tensorboard`` package is installed, ``True`` always (an error if it is missing),
            ``False`` never.
    """

    epochs: int = 120
    sampler: Literal["pk", "triplet"] = "pk"
    p: int = 16
    k: int = 4
    triplets_per_batch: int = 32
    losses: tuple[LossTermConfig, ...] = field(default_factory=default_losses)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9
    scheduler: Literal["step", "cosine", "constant"] = "step"
    milestones: tuple[int, ...] = (40, 70)
    gamma: float = 0.1
    warmup_epochs: int = 10
    warmup_factor: float = 0.01
    augment: TransformConfig | None = None
    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    grad_clip: float | None = None
    device: str | None = None
    num_workers: int | None = None
    seed: int = 0
    max_steps_per_epoch: int | None = None
    eval_every: int = 1
    on_nan: Literal["raise", "skip_batch"] = "raise"
    out_dir: str | None = None
    resume: bool = False
    keep_checkpoints: int = 2
    progress: bool = True
    tensorboard: bool | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "p", "k", "triplets_per_batch", "lr", "eval_every"):
            _positive(name, getattr(self, name))
        _positive("keep_checkpoints", self.keep_checkpoints)
        _choice("sampler", self.sampler, ("pk", "triplet"))
        _choice("optimizer", self.optimizer, ("adam", "adamw", "sgd"))
        _choice("scheduler", self.scheduler, ("step", "cosine", "constant"))
        _choice("precision", self.precision, ("fp32", "bf16", "fp16"))
        _choice("on_nan", self.on_nan, ("raise", "skip_batch"))
        if self.warmup_epochs < 0 or not 0 < self.warmup_factor <= 1:
            raise ConfigError(
                "TrainerConfig.warmup_epochs must be >= 0 and warmup_factor in (0, 1]; got "
                f"{self.warmup_epochs} and {self.warmup_factor}."
            )
        if self.grad_clip is not None:
            _positive("grad_clip", self.grad_clip)
        if self.max_steps_per_epoch is not None:
            _positive("max_steps_per_epoch", self.max_steps_per_epoch)
        if self.num_workers is not None and self.num_workers < 0:
            raise ConfigError(f"TrainerConfig.num_workers must be >= 0, got {self.num_workers}.")
        if self.sampler == "pk" and self.k < 2:
            raise ConfigError("TrainerConfig.k must be >= 2 with sampler='pk' (no positives).")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"TrainerConfig.seed must be an integer >= 0, got {self.seed!r}.")
        if self.resume and self.out_dir is None:
            raise ConfigError("TrainerConfig.resume=True needs out_dir, where checkpoints live.")
        object.__setattr__(self, "losses", tuple(self.losses))
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if not self.losses:
            raise ConfigError("TrainerConfig.losses is empty: give at least one LossTermConfig.")
