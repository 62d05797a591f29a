"""One training run from a recipe: load data, evaluate, train, evaluate, write the report.

``siamreid train``, ``siamreid demo`` and ``examples/reproduce_market1501.py`` all run this, so
they write the same files: ``recipe.yaml``, ``metrics.json``, ``losses.png``, ``ranked.png``,
``train/`` (checkpoints, ``metrics.jsonl``) and ``model/`` (the trained embedder).

Under ``torchrun`` every process trains, but only rank 0 generates synthetic data, evaluates,
prints and writes files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from siamreid.data.config import load_splits
from siamreid.models.embedder import SiameseEmbedder
from siamreid.report import rank_gallery, write_report
from siamreid.training.distributed import DistContext
from siamreid.training.recipe import Recipe, save_recipe
from siamreid.training.trainer import Trainer
from siamreid.training.validation import ValidationResult, validate

__all__ = ["run_recipe"]


def run_recipe(
    recipe: Recipe,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train and evaluate ``recipe``, writing every output under ``out_dir``.

    Args:
        recipe: Model, data and trainer settings.
        out_dir: Run folder.
        resume: Continue from the last complete checkpoint in ``out_dir/train``.
        echo: Where progress lines go.

    Returns:
        The content of ``metrics.json`` (``before``/``after`` metrics, times); an empty dict on
        the other ranks of a ``torchrun`` group.
    """
    out = Path(out_dir)
    start = time.perf_counter()
    dist = DistContext.from_env()
    if not dist.is_main:
        dist.barrier()  # rank 0 loads first: it may be generating the synthetic dataset
    splits = load_splits(recipe.data)
    if dist.is_main:
        dist.barrier()
        echo(splits.summary())
    model_cfg = recipe.model
    if model_cfg.num_classes == 0 and any(t.kind == "id" for t in recipe.trainer.losses):
        model_cfg = replace(model_cfg, num_classes=splits.num_train_pids)
    trainer_cfg = replace(recipe.trainer, out_dir=str(out / "train"), resume=resume)
    resolved = replace(recipe, model=model_cfg, trainer=trainer_cfg)
    model = SiameseEmbedder.from_config(model_cfg)
    trainer = Trainer(model, trainer_cfg, dist=dist)
    if not dist.is_main:
        trainer.fit(splits.train, splits)  # validation, reports and files are rank 0's
        return {}
    save_recipe(resolved, out / "recipe.yaml")

    def evaluate() -> ValidationResult:  # the same call before and after training
        return validate(
            model,
            splits,
            trainer.loss_fn,
            device=trainer.device,
            p=trainer_cfg.p,
            k=trainer_cfg.k,
            num_workers=trainer.num_workers,
        )

    before = evaluate()
    echo(f"before training: rank1 {before.metrics.cmc[0]:.3f}  mAP {before.metrics.mAP:.3f}")
    train_start = time.perf_counter()
    history = trainer.fit(splits.train, splits)
    train_seconds = time.perf_counter() - train_start
    after = evaluate()
    echo(f"after training:  rank1 {after.metrics.cmc[0]:.3f}  mAP {after.metrics.mAP:.3f}")
    ranked = rank_gallery(
        after.query_embeddings,
        after.gallery_embeddings,
        splits.query,
        splits.gallery,
        seed=trainer_cfg.seed,
    )
    report = write_report(
        out,
        before=before.metrics,
        after=after.metrics,
        history=history,
        train_seconds=train_seconds,
        ranked=ranked,
        query=splits.query,
        gallery=splits.gallery,
        extra={"backbone": model_cfg.backbone, "input_size": list(model_cfg.input_size)},
    )
    model.save_pretrained(out / "model")
    report["total_seconds"] = time.perf_counter() - start
    echo(
        f"wrote {out / 'metrics.json'}, losses.png and ranked.png "
        f"({report['total_seconds']:.0f} s in all)"
    )
    return report
