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

from siamreid._io import writer_lock
from siamreid.data import apply_bad_image_policy
from siamreid.data.config import load_splits
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, PretrainedWeightsError, RunFolderError
from siamreid.models.backbones import check_hub_access
from siamreid.models.embedder import SiameseEmbedder
from siamreid.report import rank_gallery, write_report
from siamreid.run_folder import (
    RECIPE_FILE,
    check_resume,
    check_run_folder,
    clear_run_folder,
)
from siamreid.training.device import select_device
from siamreid.training.distributed import DistContext
from siamreid.training.recipe import Recipe, save_recipe
from siamreid.training.trainer import Trainer

__all__ = ["build_model", "run_recipe"]


def build_model(recipe: Recipe) -> SiameseEmbedder:
    """The recipe's model, initialised under ``trainer.seed``: same seed, same initial weights.

    The global RNG is left as it was (the seed is applied in a restored scope).

    Raises:
        PretrainedWeightsError: Pretrained weights cannot be had; the message names the recipe
            fields that fix it.
    """
    try:
        return SiameseEmbedder.from_config(recipe.model, seed=recipe.trainer.seed)
    except PretrainedWeightsError as err:
        raise _in_recipe_terms(recipe, err) from err


def _in_recipe_terms(recipe: Recipe, err: PretrainedWeightsError) -> PretrainedWeightsError:
    """The way out of a weights error, said in recipe fields (also what the CLI takes)."""
    model = recipe.model
    if model.weights is not None:
        return PretrainedWeightsError(f"model.weights {model.weights!r}: {err}")
    return PretrainedWeightsError(
        f"Cannot get the pretrained weights of model.backbone {model.backbone!r}: the Hugging "
        "Face hub is not reachable and they are not in the local cache. Set "
        "model.weights=PATH (a local ImageNet checkpoint: .safetensors, .pth or .bin) or "
        "model.pretrained=false, in the recipe or on the command line."
    )


def run_recipe(
    recipe: Recipe,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    overwrite: bool = False,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train and evaluate ``recipe``, writing every output under ``out_dir``.

    The whole recipe is checked before any data is read: a folder that holds a run is refused
    unless ``resume`` (same recipe) or ``overwrite`` (the folder is emptied first), and a refused
    run changes no file. The model is initialised under ``trainer.seed``, so the same recipe
    and seed give bit-identical weights, also across an interrupted and resumed run.

    Args:
        recipe: Model, data and trainer settings.
        out_dir: Run folder.
        resume: Continue from the last complete checkpoint in ``out_dir/train``.
        overwrite: Empty ``out_dir`` and start again when it holds a run.
        echo: Where progress lines go.

    Returns:
        The content of ``metrics.json`` (``before``/``after`` metrics, times); an empty dict on
        the other ranks of a ``torchrun`` group.

    Raises:
        RunFolderError: ``out_dir`` holds a run (and neither flag is set), holds files of no
            run, or the run cannot be resumed with this recipe.
        ConfigError: The device does not exist here, or the dataset folder is missing.
    """
    out = Path(out_dir)
    start = time.perf_counter()
    dist = DistContext.from_env()
    if not dist.is_main:
        dist.barrier()  # rank 0 checks the folder and loads first (it may generate data)
        splits = _load(recipe)
        resolved = _resolved(recipe, splits, out, resume)
        Trainer(build_model(resolved), resolved.trainer, dist=dist).fit(splits.train, splits)
        return {}
    check_run_folder(out, resume=resume, overwrite=overwrite)  # before the lock file is made
    _check_recipe(recipe)
    with writer_lock(out, what="run folder", error=RunFolderError):
        splits, resolved = _prepare(recipe, out, resume=resume, overwrite=overwrite, dist=dist)
        echo(splits.summary())
        report = _train_and_report(resolved, splits, out, dist, echo)
    report["total_seconds"] = time.perf_counter() - start
    echo(
        f"wrote {out / 'metrics.json'}, losses.png and ranked.png "
        f"({report['total_seconds']:.0f} s in all)"
    )
    return report


def _prepare(
    recipe: Recipe, out: Path, *, resume: bool, overwrite: bool, dist: DistContext
) -> tuple[ReidSplits, Recipe]:
    """Check everything, then (and only then) clear, load the data and write the recipe."""
    check_run_folder(out, resume=resume, overwrite=overwrite)  # again, now that we hold it
    stored = check_resume(out, recipe) if resume else None
    if overwrite:
        clear_run_folder(out)
    if stored is None:  # mark the folder as a run before data generation can fill it
        save_recipe(
            replace(recipe, trainer=replace(recipe.trainer, resume=resume)), out / RECIPE_FILE
        )
    try:
        splits = _load(recipe)
    finally:
        dist.barrier()  # the other ranks load now
    resolved = _resolved(recipe, splits, out, resume)
    if stored is None or resolved.to_dict() != stored.to_dict():
        save_recipe(resolved, out / RECIPE_FILE)  # sized classifier; a resume may add epochs
    return splits, resolved


def _load(recipe: Recipe) -> ReidSplits:
    """The recipe's splits, with unreadable images left out when ``data.on_bad_image=skip``."""
    return apply_bad_image_policy(load_splits(recipe.data), recipe.data.on_bad_image)


def _check_recipe(recipe: Recipe) -> None:
    """What the dataclasses cannot check alone: the device and the dataset folder exist."""
    select_device(recipe.trainer.device)
    if recipe.model.weights is None:
        try:
            check_hub_access(recipe.model.backbone, pretrained=recipe.model.pretrained)
        except PretrainedWeightsError as err:
            raise _in_recipe_terms(recipe, err) from err
    data = recipe.data
    if data.dataset != "synthetic" and not Path(data.root).exists():
        raise ConfigError(
            f"data.root {data.root!r} does not exist (dataset {data.dataset!r}); nothing was "
            "read or written. Pass data.root=PATH of the dataset folder."
        )


def _resolved(recipe: Recipe, splits: ReidSplits, out: Path, resume: bool) -> Recipe:
    """The recipe as run: the classifier sized to the data, the trainer writing into out/train."""
    model_cfg = recipe.model
    if model_cfg.num_classes == 0 and any(t.kind == "id" for t in recipe.trainer.losses):
        model_cfg = replace(model_cfg, num_classes=splits.num_train_pids)
    trainer_cfg = replace(recipe.trainer, out_dir=str(out / "train"), resume=resume)
    return replace(recipe, model=model_cfg, trainer=trainer_cfg)


def _train_and_report(
    resolved: Recipe,
    splits: ReidSplits,
    out: Path,
    dist: DistContext,
    echo: Callable[[str], Any],
) -> dict[str, Any]:
    model_cfg, trainer_cfg = resolved.model, resolved.trainer
    model = build_model(resolved)
    trainer = Trainer(model, trainer_cfg, dist=dist)

    before = trainer.validate(splits)
    echo(f"before training: rank1 {before.metrics.cmc[0]:.3f}  mAP {before.metrics.mAP:.3f}")
    train_start = time.perf_counter()
    history = trainer.fit(splits.train, splits)
    train_seconds = time.perf_counter() - train_start
    after = trainer.validate(splits)
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
        model=model,
    )
    model.save_pretrained(out / "model")
    return report
