"""The training loop, and nothing else: data, model, losses and evaluation live elsewhere."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.data.torch_data import ReidImageDataset, TripletDataset
from siamreid.data.transforms import TransformConfig, build_train_transform
from siamreid.errors import ConfigError, NonFiniteLossError
from siamreid.evaluation import RankMetrics
from siamreid.losses import CompositeLoss, build_loss
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.heads import HeadOutput
from siamreid.training.config import TrainerConfig
from siamreid.training.device import autocast, default_num_workers, select_device
from siamreid.training.distributed import DistContext
from siamreid.training.history import EpochRecord, EpochStats, History
from siamreid.training.interrupt import StopRequest
from siamreid.training.loaders import (
    item_seed,
    make_loader,
    plan_epoch,
    seeded_rng,
    split_batch,
)
from siamreid.training.loggers import RunLogger, open_loggers
from siamreid.training.optim import build_optimizer, build_scheduler
from siamreid.training.state import (
    TrainState,
    config_to_dict,
    keep_if_best,
    load_best,
    resume_state,
    save_state,
    write_run_files,
)
from siamreid.training.validation import ValidationResult, validate

__all__ = ["Trainer"]

log = logging.getLogger(__name__)


class Trainer:
    """Trains a :class:`SiameseEmbedder` with metric (and identity) losses.

    Args:
        model: The model; moved to the chosen device.
        config: Loop settings; defaults to the strong-baseline recipe.
        dist: Process group context; defaults to what ``torchrun`` put in the environment.

    Example:
        >>> model = SiameseEmbedder("resnet18", pretrained=False, num_classes=splits.num_train_pids)
        >>> config = TrainerConfig(epochs=5, output=OutputConfig(out_dir="runs/x"))
        >>> trainer = Trainer(model, config)  # doctest: +SKIP
        >>> history = trainer.fit(splits.train, splits)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: SiameseEmbedder,
        config: TrainerConfig | None = None,
        *,
        dist: DistContext | None = None,
    ) -> None:
        self.model = model
        self.config = config or TrainerConfig()
        self.dist = dist or DistContext.from_env()
        runtime = self.config.runtime
        self.device = self.dist.device if self.dist.active else select_device(runtime.device)
        self.loss_fn: CompositeLoss = build_loss(
            self.config.losses,
            num_classes=model.config.num_classes,
            embedding_dim=model.config.embedding_dim,
            seed=self.config.seed,
        ).to(self.device)
        self.history = History()
        self.num_workers = (
            default_num_workers(self.device) if runtime.num_workers is None else runtime.num_workers
        )
        self.model.to(self.device)
        if runtime.channels_last:
            self.model.to(memory_format=torch.channels_last)
        unused_classifier = self.model.head.classifier is not None and not self.loss_fn.needs_logits
        self.net: nn.Module = self.dist.wrap(
            _TrainForward(self.model), find_unused_parameters=unused_classifier
        )
        if runtime.compile:
            self.net = torch.compile(self.net)  # type: ignore[assignment]
        optim = self.config.optim
        # The loss's own class weights (ArcFace/CosFace) after the model's: same layout without.
        self.optimizer = build_optimizer(nn.ModuleList([self.model, self.loss_fn]), optim)
        self.scheduler = build_scheduler(
            self.optimizer, self.config.schedule, lr=optim.lr, epochs=self.config.epochs
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=runtime.precision == "fp16")
        self.skipped_batches = 0
        self._loggers: list[RunLogger] = []

    # ----------------------------------------------------------------------------- public API
    @property
    def out_dir(self) -> Path | None:
        """The run folder, or ``None`` when nothing is written."""
        out_dir = self.config.output.out_dir
        return None if out_dir is None else Path(out_dir)

    def fit(self, train: Sequence[ReidSample], val: ReidSplits | None = None) -> History:
        """Train for ``config.epochs``, validating on ``val``'s query/gallery when given.

        Args:
            train: Training samples (pids ``0..N-1``).
            val: Held-out identities: its ``query`` and ``gallery`` are used.

        Returns:
            The per-epoch history (also appended to ``out_dir/metrics.jsonl``).

        Raises:
            NonFiniteLossError: A loss became NaN/inf with ``on_nan="raise"``; the last
                checkpoint is left intact.
            KeyboardInterrupt: After saving a checkpoint of the interrupted epoch.
        """
        self._check_inputs(train, val)
        dataset = self._train_dataset(train)
        pids = [s.pid for s in train]
        start_epoch, start_step = self._maybe_resume()
        self._write_run_files()
        plan = self._plan(pids, start_epoch, start_step)
        loader = make_loader(
            dataset, plan, num_workers=self.num_workers, pin_memory=self.device.type == "cuda"
        )
        if self.dist.is_main:
            self._loggers = open_loggers(
                self.config.output,
                self.out_dir,
                first_epoch=start_epoch + 1,
                run_config=self._resolved_config(),
            )
        try:
            with StopRequest() as stop:
                for epoch in range(start_epoch, self.config.epochs):
                    if epoch > start_epoch:
                        plan.keys = self._plan(pids, epoch, 0).keys  # same sampler: workers persist
                    first = start_step if epoch == start_epoch else 0
                    self.scheduler.step(epoch)  # the schedule is a function of the epoch
                    stats = self._train_epoch(epoch, loader, first, stop)
                    result = self._maybe_validate(epoch, val)
                    self._finish_epoch(epoch, stats, result)
        finally:
            for logger in self._loggers:
                logger.close()
            self._loggers = []
        return self.history

    def load_best(self) -> int:
        """Load the weights of the best validated epoch (kept with ``output.keep_best``).

        Returns:
            The epoch they are from.

        Raises:
            CheckpointError: The run kept no best checkpoint.
        """
        if self.out_dir is None:
            raise ConfigError("Trainer.load_best needs OutputConfig.out_dir and keep_best=True.")
        return load_best(self.out_dir, self.model)

    def validate(self, splits: ReidSplits) -> ValidationResult:
        """Everything measured on held-out identities: Rank-k/mAP/mINP of ``splits.query``
        against ``splits.gallery``, the metric-loss terms, triplet accuracy and the embeddings.

        The same call the loop makes every ``eval_every`` epochs; run it before and after
        :meth:`fit` to compare.

        Example:
            >>> result = trainer.validate(splits)  # doctest: +SKIP
            >>> result.metrics.rank1, result.loss  # doctest: +SKIP
        """
        return validate(
            self.model,
            splits,
            self.loss_fn,
            device=self.device,
            p=self.config.sampling.p,
            k=self.config.sampling.k,
            num_workers=self.num_workers,
        )

    def evaluate(self, splits: ReidSplits) -> RankMetrics:
        """Rank-k, mAP and mINP of ``splits.query`` against ``splits.gallery``."""
        return self.validate(splits).metrics

    # ----------------------------------------------------------------------------- set-up
    def _check_inputs(self, train: Sequence[ReidSample], val: ReidSplits | None) -> None:
        if not train:
            raise ConfigError("Trainer.fit got an empty training set; pass splits.train.")
        if self.config.output.keep_best and (val is None or self.out_dir is None):
            raise ConfigError(
                "OutputConfig.keep_best=True keeps the best validated epoch: pass the held-out "
                "splits to Trainer.fit(train, val) and set OutputConfig.out_dir."
            )
        num_pids = len({s.pid for s in train})
        self.loss_fn.check_classes(self.model.config.num_classes, num_pids)
        if self.config.sampling.kind == "pk" and num_pids < 2:
            raise ConfigError("PK batches need at least 2 training identities.")

    def _train_dataset(self, train: Sequence[ReidSample]) -> Dataset[Any]:
        height, width = self.model.config.input_size
        augment = self.config.augment or TransformConfig(height=height, width=width)
        if (augment.height, augment.width) != (height, width):
            raise ConfigError(
                f"TrainerConfig.augment resizes to {(augment.height, augment.width)} but the "
                f"model's input_size is {(height, width)}; make them equal."
            )
        data = self.model.data_config
        transform = build_train_transform(augment, data.mean, data.std, data.interpolation)
        if self.config.sampling.kind == "triplet":
            return TripletDataset(list(train), transform, seed=self.config.seed)
        return ReidImageDataset(list(train), transform)

    def _plan(self, pids: list[int], epoch: int, start_step: int) -> Any:
        return plan_epoch(
            pids,
            self.config.sampling,
            epoch,
            seed=self.config.seed,
            max_steps=self.config.runtime.max_steps_per_epoch,
            rank=self.dist.rank,
            world=self.dist.world_size,
            start_step=start_step,
        )

    # ----------------------------------------------------------------------------- the loop
    def _train_epoch(
        self, epoch: int, loader: Any, first_step: int, stop: StopRequest
    ) -> EpochStats:
        self.net.train()
        sums: dict[str, float] = {}
        total, steps, images = 0.0, 0, 0
        start = time.perf_counter()
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{self.config.epochs}",
            disable=not (self.config.output.progress and self.dist.is_main),
            leave=False,
            dynamic_ncols=True,
        )
        step = first_step
        for batch in bar:
            # Model randomness (dropout, drop-path) is seeded per step, so a resumed run
            # replays exactly what an uninterrupted one does; the caller's RNG is untouched.
            with seeded_rng(item_seed(self.config.seed, epoch, step, stream=1), self.device):
                loss_value, terms, n = self._train_step(batch, epoch, step)
            step += 1
            if loss_value is not None:
                total += loss_value
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + value
                steps += 1
                images += n * self.dist.world_size
                rate = images / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{loss_value:.3f}", img_s=f"{rate:.1f}")
            if stop.requested:
                bar.close()
                self._save(epoch, step=step)
                log.warning("Interrupted: saved a checkpoint at epoch %d step %d.", epoch + 1, step)
                raise KeyboardInterrupt
        bar.close()
        seconds = time.perf_counter() - start
        steps = max(steps, 1)
        return EpochStats(
            loss=total / steps,
            terms={k: v / steps for k, v in sums.items()},
            images_per_second=images / max(seconds, 1e-9),
            seconds=seconds,
        )

    def _train_step(
        self, batch: Sequence[torch.Tensor], epoch: int, step: int
    ) -> tuple[float | None, dict[str, float], int]:
        images, labels, triplets = split_batch(batch, self.device)
        if self.config.runtime.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.config.runtime.precision):
            out = self.net(images)
            loss, terms = self.loss_fn(
                self.dist.gather_output(out), self.dist.gather_labels(labels), triplets
            )
        loss = self.dist.scale_loss(loss)
        if not torch.isfinite(loss):
            self._non_finite(epoch, step, terms)
            return None, {}, 0
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        self.dist.unscale_replicated_grads(self.loss_fn.parameters())
        grad_clip = self.config.optim.grad_clip
        if grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            params = [*self.model.parameters(), *self.loss_fn.parameters()]
            nn.utils.clip_grad_norm_(params, grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values = {name: float(v.detach()) for name, v in terms.items()}
        return (
            sum(cfg.weight * values[cfg.label] for cfg in self.loss_fn.configs),
            values,
            len(labels),
        )

    def _non_finite(self, epoch: int, step: int, terms: dict[str, torch.Tensor]) -> None:
        described = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
        if self.config.runtime.on_nan == "skip_batch":
            self.skipped_batches += 1
            self.optimizer.zero_grad(set_to_none=True)
            log.warning(
                "Skipped a batch with a non-finite loss at epoch %d step %d (%s).",
                epoch + 1,
                step,
                described,
            )
            return None
        raise NonFiniteLossError(
            f"Non-finite loss at epoch {epoch + 1}, step {step} ({described}). The last good "
            "checkpoint is intact. Lower the learning rate, set grad_clip, use precision='fp32' "
            "or bf16, or set on_nan='skip_batch'."
        )

    def _maybe_validate(self, epoch: int, val: ReidSplits | None) -> ValidationResult | None:
        last = epoch + 1 == self.config.epochs
        if val is None or not (last or (epoch + 1) % self.config.eval_every == 0):
            return None
        if not self.dist.is_main:
            return None
        return self.validate(val)

    def _finish_epoch(self, epoch: int, stats: EpochStats, result: ValidationResult | None) -> None:
        record = EpochRecord(
            epoch=epoch + 1,
            train_loss=stats.loss,
            train_terms=stats.terms,
            lr=float(self.optimizer.param_groups[0]["lr"]),
            images_per_second=stats.images_per_second,
            epoch_seconds=stats.seconds,
            skipped_batches=self.skipped_batches,
            val_loss=None if result is None else result.loss,
            val_terms={} if result is None else result.terms,
            rank1=None if result is None else float(result.metrics.cmc[0]),
            mAP=None if result is None else float(result.metrics.mAP),
            mINP=None if result is None else float(result.metrics.mINP),
            triplet_accuracy=None if result is None else result.triplet_accuracy,
        )
        best = False
        if self.config.output.keep_best and self.out_dir is not None and self.dist.is_main:
            best = keep_if_best(self.out_dir, self.model, self.history, record)
        jsonl = self.out_dir / "metrics.jsonl" if self.out_dir and self.dist.is_main else None
        self.history.append(record, jsonl)
        for logger in self._loggers:
            logger.log(record)
        self._save(epoch + 1, step=0)
        if self.dist.is_main:
            log.info("%s%s", record.describe(self.config.epochs), "  (best so far)" if best else "")

    # ----------------------------------------------------------------------------- checkpoints
    def _save(self, epoch: int, step: int) -> None:
        if self.out_dir is None or not self.dist.is_main:
            return
        state = TrainState(self.optimizer, self.scheduler, self.scaler, self.history, self.loss_fn)
        save_state(
            self.out_dir,
            self.model,
            state,
            epoch=epoch,
            step=step,
            skipped_batches=self.skipped_batches,
            keep=self.config.output.keep_checkpoints,
        )

    def _maybe_resume(self) -> tuple[int, int]:
        if not self.config.output.resume or self.out_dir is None:
            return 0, 0
        state = TrainState(self.optimizer, self.scheduler, self.scaler, self.history, self.loss_fn)
        resumed = resume_state(self.out_dir, self.model, state)
        if resumed is None:
            return 0, 0
        self.history = resumed.history
        self.skipped_batches = resumed.skipped_batches
        return resumed.epoch, resumed.step

    def _write_run_files(self) -> None:
        if self.out_dir is None or not self.dist.is_main:
            return
        write_run_files(self.out_dir, self.history, self._resolved_config())

    def _resolved_config(self) -> dict[str, Any]:
        return {"model": self.model.config.to_dict(), "trainer": config_to_dict(self.config)}


class _TrainForward(nn.Module):
    """Exposes ``forward_train`` as ``forward``, so DDP hooks see the training forward pass."""

    def __init__(self, model: SiameseEmbedder) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> HeadOutput:
        return self.model.forward_train(images)
