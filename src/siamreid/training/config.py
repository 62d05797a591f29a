"""Training configuration: small frozen dataclasses, one per concern, composed by TrainerConfig.

Each helper of the loop receives only its part: the batch sampler :class:`SamplingConfig`, the
optimizer :class:`OptimConfig`, the learning-rate schedule :class:`ScheduleConfig`, precision
and devices :class:`RuntimeConfig`, checkpoints and logging :class:`OutputConfig`. Recipe files
follow the same nesting (``trainer.optim.lr``); a key of the earlier flat layout is refused with
a message naming its new place (:data:`MOVED_KEYS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from siamreid.data.transforms import TransformConfig
from siamreid.errors import ConfigError
from siamreid.losses import LossTermConfig

__all__ = [
    "MOVED_KEYS",
    "TRACKERS",
    "OptimConfig",
    "OutputConfig",
    "Precision",
    "RuntimeConfig",
    "SamplingConfig",
    "ScheduleConfig",
    "Tracker",
    "TrainerConfig",
    "default_losses",
    "moved_key_message",
]

Precision = Literal["fp32", "bf16", "fp16"]
Tracker = Literal["tensorboard", "mlflow", "wandb"]
#: The experiment trackers :class:`OutputConfig` ``trackers`` may name.
TRACKERS: tuple[Tracker, ...] = ("tensorboard", "mlflow", "wandb")


def default_losses() -> tuple[LossTermConfig, ...]:
    """The strong-baseline loss: batch-hard triplet (margin 0.3) + label-smoothed identity CE."""
    return (
        LossTermConfig(kind="triplet", margin=0.3, miner="batch_hard", distance="euclidean"),
        LossTermConfig(kind="id", label_smoothing=0.1),
    )


def _positive(owner: str, name: str, value: float | int) -> None:
    if value <= 0:
        raise ConfigError(f"{owner}.{name} must be > 0, got {value}.")


def _choice(owner: str, name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{owner}.{name} is {value!r}; expected one of {list(choices)}.")


@dataclass(frozen=True)
class SamplingConfig:
    """How training batches are drawn.

    Attributes:
        kind: ``"pk"`` (P identities x K images per batch, mined triplets) or ``"triplet"``
            (the original Siamese formulation: random anchor/positive/negative triplets).
        p: Identities per PK batch (global, across processes).
        k: Images per identity in a PK batch.
        triplets_per_batch: Triplets per batch with ``kind="triplet"``.
    """

    kind: Literal["pk", "triplet"] = "pk"
    p: int = 16
    k: int = 4
    triplets_per_batch: int = 32

    def __post_init__(self) -> None:
        _choice("SamplingConfig", "kind", self.kind, ("pk", "triplet"))
        for name in ("p", "k", "triplets_per_batch"):
            _positive("SamplingConfig", name, getattr(self, name))
        if self.kind == "pk" and self.k < 2:
            raise ConfigError("SamplingConfig.k must be >= 2 with kind='pk' (no positives).")


@dataclass(frozen=True)
class OptimConfig:
    """The optimizer, built by timm's ``create_optimizer_v2`` (no weight decay on norms, biases).

    Attributes:
        kind: ``"adam"``, ``"adamw"`` or ``"sgd"`` (Nesterov momentum).
        lr: Peak learning rate.
        weight_decay: Weight decay.
        momentum: SGD momentum.
        grad_clip: Clip the gradient norm to this value (``None``: no clipping).
    """

    kind: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        _choice("OptimConfig", "kind", self.kind, ("adam", "adamw", "sgd"))
        _positive("OptimConfig", "lr", self.lr)
        if self.weight_decay < 0:
            raise ConfigError(f"OptimConfig.weight_decay must be >= 0, got {self.weight_decay}.")
        if self.grad_clip is not None:
            _positive("OptimConfig", "grad_clip", self.grad_clip)


@dataclass(frozen=True)
class ScheduleConfig:
    """The per-epoch learning-rate schedule, built by timm's ``create_scheduler_v2``.

    Attributes:
        kind: ``"step"`` (x ``gamma`` at each milestone epoch), ``"cosine"`` (to zero at the last
            epoch) or ``"constant"``.
        milestones: Epochs at which the step schedule decays.
        gamma: Step decay factor.
        warmup_epochs: Linear warm-up epochs from ``warmup_factor * lr``.
        warmup_factor: Starting fraction of the learning rate during warm-up.
    """

    kind: Literal["step", "cosine", "constant"] = "step"
    milestones: tuple[int, ...] = (40, 70)
    gamma: float = 0.1
    warmup_epochs: int = 10
    warmup_factor: float = 0.01

    def __post_init__(self) -> None:
        _choice("ScheduleConfig", "kind", self.kind, ("step", "cosine", "constant"))
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if self.warmup_epochs < 0 or not 0 < self.warmup_factor <= 1:
            raise ConfigError(
                "ScheduleConfig.warmup_epochs must be >= 0 and warmup_factor in (0, 1]; got "
                f"{self.warmup_epochs} and {self.warmup_factor}."
            )


@dataclass(frozen=True)
class RuntimeConfig:
    """Where and how the steps run.

    Attributes:
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; GradScaler for fp16).
        channels_last: Use the channels-last memory format (faster convolutions on GPUs).
        compile: Wrap the model in ``torch.compile``.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``, ``"cuda:1"``... ``None`` picks CUDA, MPS, CPU.
        num_workers: DataLoader workers; ``None`` chooses from the machine.
        max_steps_per_epoch: Cap on the steps of one epoch (quick runs, tests).
        on_nan: ``"raise"`` stops on a non-finite loss; ``"skip_batch"`` skips the batch.
    """

    precision: Precision = "fp32"
    channels_last: bool = False
    compile: bool = False
    device: str | None = None
    num_workers: int | None = None
    max_steps_per_epoch: int | None = None
    on_nan: Literal["raise", "skip_batch"] = "raise"

    def __post_init__(self) -> None:
        _choice("RuntimeConfig", "precision", self.precision, ("fp32", "bf16", "fp16"))
        _choice("RuntimeConfig", "on_nan", self.on_nan, ("raise", "skip_batch"))
        if self.max_steps_per_epoch is not None:
            _positive("RuntimeConfig", "max_steps_per_epoch", self.max_steps_per_epoch)
        if self.num_workers is not None and self.num_workers < 0:
            raise ConfigError(f"RuntimeConfig.num_workers must be >= 0, got {self.num_workers}.")


@dataclass(frozen=True)
class OutputConfig:
    """Checkpoints and logging.

    Attributes:
        out_dir: Folder for checkpoints, ``metrics.jsonl`` and the resolved config
            (``None``: nothing written).
        resume: Continue from the last complete checkpoint in ``out_dir``.
        keep_checkpoints: How many epoch checkpoints to keep.
        progress: Show a tqdm progress bar.
        tensorboard: Write TensorBoard scalars to ``out_dir/tensorboard``: ``None`` when the
            ``tensorboard`` package is installed, ``True`` always (an error if it is missing),
            ``False`` never.
        keep_best: Also keep the weights of the epoch with the best validation mAP
            (``checkpoints/best_epoch_NNNN``); ties keep the earlier epoch.
        trackers: Experiment trackers to log each epoch to, each through its own library:
            ``"tensorboard"`` (as ``tensorboard=True``), ``"mlflow"``, ``"wandb"``. Each needs
            its extra (``pip install 'siamreid[mlflow]'``) and is configured by its own
            environment variables (``MLFLOW_TRACKING_URI``, ``WANDB_MODE``...).
        experiment: The MLflow experiment and the W&B project the runs are logged under.
        run_name: The run's name in the trackers (``None``: the name of ``out_dir``).
    """

    out_dir: str | None = None
    resume: bool = False
    keep_checkpoints: int = 2
    progress: bool = True
    tensorboard: bool | None = None
    keep_best: bool = False
    trackers: tuple[Tracker, ...] = ()
    experiment: str = "siamreid"
    run_name: str | None = None

    def __post_init__(self) -> None:
        _positive("OutputConfig", "keep_checkpoints", self.keep_checkpoints)
        if self.resume and self.out_dir is None:
            raise ConfigError("OutputConfig.resume=True needs out_dir, where checkpoints live.")
        object.__setattr__(self, "trackers", tuple(self.trackers))
        for tracker in self.trackers:
            _choice("OutputConfig", "trackers", tracker, TRACKERS)
        if len(set(self.trackers)) != len(self.trackers):
            raise ConfigError(f"OutputConfig.trackers names one twice: {list(self.trackers)}.")
        if "tensorboard" in self.trackers and self.tensorboard is False:
            raise ConfigError(
                "OutputConfig.trackers asks for 'tensorboard' but tensorboard=False; drop one."
            )
        if not self.experiment:
            raise ConfigError("OutputConfig.experiment is empty; name the experiment/project.")


#: Where each key of the earlier flat ``TrainerConfig`` lives now (relative to ``trainer``).
MOVED_KEYS: dict[str, str] = {
    "sampler": "sampling.kind",
    **{name: f"sampling.{name}" for name in ("p", "k", "triplets_per_batch")},
    "optimizer": "optim.kind",
    **{name: f"optim.{name}" for name in ("lr", "weight_decay", "momentum", "grad_clip")},
    "scheduler": "schedule.kind",
    **{
        name: f"schedule.{name}"
        for name in ("milestones", "gamma", "warmup_epochs", "warmup_factor")
    },
    **{
        name: f"runtime.{name}"
        for name in (
            "precision",
            "channels_last",
            "compile",
            "device",
            "num_workers",
            "max_steps_per_epoch",
            "on_nan",
        )
    },
    **{
        name: f"output.{name}"
        for name in ("out_dir", "resume", "keep_checkpoints", "progress", "tensorboard")
    },
}


def moved_key_message(keys: list[str], where: str, example: str) -> str | None:
    """The message refusing flat keys of the earlier layout, or ``None`` when none is among
    ``keys``; ``where`` names the trainer section to the user and ``example`` shows the new form.
    """
    moved = [k for k in keys if k in MOVED_KEYS]
    if not moved:
        return None
    paths = ", ".join(f"{where}.{k} -> {where}.{MOVED_KEYS[k]}" for k in moved)
    return f"The trainer settings are grouped now: move {paths} ({example})."


@dataclass(frozen=True)
class TrainerConfig:
    """Everything the :class:`~siamreid.Trainer` loop needs besides the model and the data.

    Attributes:
        epochs: Training epochs.
        seed: Seed of sampling, augmentation and initialisation order.
        eval_every: Validate every this many epochs (and after the last).
        losses: The weighted loss terms.
        augment: Train-time augmentation; ``None`` takes the defaults at the model's input size.
        sampling: How batches are drawn (PK or triplets).
        optim: The optimizer.
        schedule: The learning-rate schedule.
        runtime: Precision, memory format, compilation, device, workers.
        output: Checkpoints and logging.

    Example:
        >>> config = TrainerConfig(epochs=30, optim=OptimConfig(lr=1e-3))
        >>> config.optim.lr, config.sampling.p
        (0.001, 16)
    """

    epochs: int = 120
    seed: int = 0
    eval_every: int = 1
    losses: tuple[LossTermConfig, ...] = field(default_factory=default_losses)
    augment: TransformConfig | None = None
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __new__(cls, *args: Any, **kwargs: Any) -> TrainerConfig:
        # A keyword of the earlier flat layout gets the same message a recipe file does.
        message = moved_key_message(
            list(kwargs), "TrainerConfig", "e.g. TrainerConfig(optim=OptimConfig(lr=1e-3))"
        )
        if message is not None:
            raise ConfigError(message)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for name in ("epochs", "eval_every"):
            _positive("TrainerConfig", name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"TrainerConfig.seed must be an integer >= 0, got {self.seed!r}.")
        object.__setattr__(self, "losses", tuple(self.losses))
        if not self.losses:
            raise ConfigError("TrainerConfig.losses is empty: give at least one LossTermConfig.")
