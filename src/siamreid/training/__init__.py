"""Training: configuration, the Trainer loop, checkpoints, history and DDP helpers."""

from siamreid.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from siamreid.training.config import (
    OptimConfig,
    OutputConfig,
    RuntimeConfig,
    SamplingConfig,
    ScheduleConfig,
    TrainerConfig,
    default_losses,
)
from siamreid.training.distributed import DistContext
from siamreid.training.history import EpochRecord, History
from siamreid.training.loggers import MLflowLogger, RunLogger, TensorBoardLogger, WandbLogger
from siamreid.training.trainer import Trainer
from siamreid.training.validation import ValidationResult

__all__ = [
    "Checkpoint",
    "DistContext",
    "EpochRecord",
    "History",
    "MLflowLogger",
    "OptimConfig",
    "OutputConfig",
    "RunLogger",
    "RuntimeConfig",
    "SamplingConfig",
    "ScheduleConfig",
    "TensorBoardLogger",
    "Trainer",
    "TrainerConfig",
    "ValidationResult",
    "WandbLogger",
    "default_losses",
    "load_checkpoint",
    "save_checkpoint",
]
