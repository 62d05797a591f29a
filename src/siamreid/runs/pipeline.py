"""One training run from a recipe: load data, evaluate, train, evaluate, write the report.

``siamreid train``, ``siamreid demo`` and ``examples/reproduce_market1501.py`` all run this, so
they write the same files: ``recipe.yaml``, ``log.txt`` (what was printed), ``metrics.json``,
``losses.png``, ``ranked.png``, ``train/`` (checkpoints, ``metrics.jsonl``) and ``model/`` (the
trained embedder).

Under ``torchrun`` every process trains, but only rank 0 generates synthetic data, evaluates,
prints and writes files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from siamreid._io import writer_lock
from siamreid.data import apply_bad_image_policy
from siamreid.data.loading import TrainTestSplits, load_splits, load_train_test
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError, PretrainedWeightsError, RunFolderError
from siamreid.models.backbones import check_backbone_name, check_hub_access, has_download
from siamreid.models.embedder import SiameseEmbedder
from siamreid.runs.folder import (
    RECIPE_FILE,
    check_resume,
    check_run_folder,
    clear_run_folder,
    holds_run,
    run_log,
)
from siamreid.runs.report import cross_domain_table, rank_gallery, write_report
from siamreid.training.config import TrainerConfig
from siamreid.training.device import select_device
from siamreid.training.distributed import DistContext
from siamreid.training.history import History
from siamreid.training.recipe import Recipe, save_recipe
from siamreid.training.trainer import Trainer
from siamreid.training.validation import ValidationResult

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
    if not has_download(model.backbone):  # OSNet: only local (peer) checkpoints exist
        return PretrainedWeightsError(
            f"model.backbone {model.backbone!r} has no weights to download: set "
            "model.weights=PATH (a torchreid / BoxMOT checkpoint of that architecture) or "
            "model.pretrained=false, in the recipe or on the command line."
        )
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

    The whole recipe is checked before any data is read (the backbone name, the device, the
    weights, the dataset folders), and the sampling right after the data summary, before the
    untrained evaluation. A folder that holds a run is refused unless ``resume`` (same recipe) or
    ``overwrite`` (the folder is emptied first), and a refused run changes no file; a new run
    that fails before training starts leaves no run folder behind. The model is initialised
    under ``trainer.seed``, so the same recipe and seed give bit-identical weights, also across
    an interrupted and resumed run.

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
        _train_alongside(recipe, out, resume=resume, dist=dist)
        return {}
    check_run_folder(out, resume=resume, overwrite=overwrite)  # before the lock file is made
    _check_recipe(recipe)
    created, fresh = not out.exists(), not holds_run(out)
    with writer_lock(out, what="run folder", error=RunFolderError), run_log(out) as note:
        echo = _tee(echo, note)
        with _undone_on_error(out, fresh=fresh, created=created):
            data, resolved = _prepare(recipe, out, resume=resume, overwrite=overwrite, dist=dist)
            _echo_summaries(data, echo)
            _check_sampling(resolved, data.train)
        report = _train_and_report(resolved, data, out, dist, echo)
        report["total_seconds"] = time.perf_counter() - start
        echo(
            f"wrote {out / 'metrics.json'}, losses.png and ranked.png "
            f"({report['total_seconds']:.0f} s in all)"
        )
    return report


@contextlib.contextmanager
def _undone_on_error(out: Path, *, fresh: bool, created: bool) -> Iterator[None]:
    """A new run that fails before training leaves nothing: what it wrote goes (with the folder
    itself when the run made it), so the same command can simply be run again."""
    try:
        yield
    except BaseException:
        if fresh:
            clear_run_folder(out)
            if created:  # the lock is still held: no other writer can be in the folder
                shutil.rmtree(out, ignore_errors=True)
        raise


def _check_sampling(recipe: Recipe, train: ReidSplits) -> None:
    """PK batches need ``trainer.sampling.p`` training identities: found before any model work."""
    sampling = recipe.trainer.sampling
    if sampling.kind == "pk" and sampling.p > train.num_train_pids:
        raise ConfigError(
            f"trainer.sampling.p={sampling.p} identities per batch, but the training data "
            f"({train.name}) has {train.num_train_pids}; nothing was trained or kept. Lower "
            f"trainer.sampling.p to at most {train.num_train_pids}, or train on more identities."
        )


def _tee(echo: Callable[[str], Any], note: Callable[[str], None]) -> Callable[[str], None]:
    """``echo`` that also writes each line to the run's log.txt."""

    def both(line: str) -> None:
        echo(line)
        note(line)

    return both


def _train_alongside(recipe: Recipe, out: Path, *, resume: bool, dist: DistContext) -> None:
    """A ``torchrun`` process other than rank 0: wait for rank 0's checks and data, then train."""
    dist.barrier()  # rank 0 checks the folder and loads first (it may generate data)
    splits = _load_train(recipe)
    resolved = _resolved(recipe, splits, out, resume)
    Trainer(build_model(resolved), resolved.trainer, dist=dist).fit(splits.train, splits)


def _echo_summaries(data: TrainTestSplits, echo: Callable[[str], Any]) -> None:
    """One line per dataset: the training set's, then each test set that is not it."""
    echo(data.train.summary())
    for test in data.tests.values():
        if test is not data.train:
            echo(test.summary())


def _prepare(
    recipe: Recipe, out: Path, *, resume: bool, overwrite: bool, dist: DistContext
) -> tuple[TrainTestSplits, Recipe]:
    """Check everything, then (and only then) clear, load the data and write the recipe."""
    check_run_folder(out, resume=resume, overwrite=overwrite)  # again, now that we hold it
    stored = check_resume(out, recipe) if resume else None
    if overwrite:
        clear_run_folder(out)
    if stored is None:  # mark the folder as a run before data generation can fill it
        save_recipe(
            replace(recipe, trainer=_with_output(recipe.trainer, resume=resume)), out / RECIPE_FILE
        )
    try:
        data = _load(recipe)
    finally:
        dist.barrier()  # the other ranks load now
    resolved = _resolved(recipe, data.train, out, resume)
    if stored is None or resolved.to_dict() != stored.to_dict():
        save_recipe(resolved, out / RECIPE_FILE)  # sized classifier; a resume may add epochs
    return data, resolved


def _load_train(recipe: Recipe) -> ReidSplits:
    """The recipe's training splits, with unreadable images left out when
    ``data.on_bad_image=skip``."""
    return apply_bad_image_policy(load_splits(recipe.data), recipe.data.on_bad_image)


def _load(recipe: Recipe) -> TrainTestSplits:
    """The recipe's training and test sets, each under the ``data.on_bad_image`` policy."""
    data = load_train_test(recipe.data)
    policy = recipe.data.on_bad_image
    train = apply_bad_image_policy(data.train, policy)
    tests = {  # a test set that is the training set is checked once
        label: train if test is data.train else apply_bad_image_policy(test, policy)
        for label, test in data.tests.items()
    }
    return TrainTestSplits(train, tests)


def _check_recipe(recipe: Recipe) -> None:
    """What the dataclasses cannot check alone: the backbone and the device exist, the
    weights can be had and the dataset folder exists."""
    check_backbone_name(recipe.model.backbone)
    select_device(recipe.trainer.runtime.device)
    if recipe.model.weights is None:
        try:
            check_hub_access(recipe.model.backbone, pretrained=recipe.model.pretrained)
        except PretrainedWeightsError as err:
            raise _in_recipe_terms(recipe, err) from err
    for where, source in recipe.data.sources_by_place():
        if source.dataset != "synthetic" and not source.path.exists():
            raise ConfigError(
                f"{where}.root {source.root!r} does not exist (dataset {source.dataset!r}); "
                f"nothing was read or written. Pass {where}.root=PATH of the dataset folder."
            )


def _resolved(recipe: Recipe, splits: ReidSplits, out: Path, resume: bool) -> Recipe:
    """The recipe as run: the classifier sized to the data, the trainer writing into out/train."""
    model_cfg = recipe.model
    if model_cfg.num_classes == 0 and any(t.needs_classes for t in recipe.trainer.losses):
        model_cfg = replace(model_cfg, num_classes=splits.num_train_pids)
    run_name = recipe.trainer.output.run_name or out.resolve().name  # the trackers' run name
    trainer_cfg = _with_output(
        recipe.trainer, out_dir=str(out / "train"), resume=resume, run_name=run_name
    )
    return replace(recipe, model=model_cfg, trainer=trainer_cfg)


def _train_and_report(
    resolved: Recipe,
    data: TrainTestSplits,
    out: Path,
    dist: DistContext,
    echo: Callable[[str], Any],
) -> dict[str, Any]:
    """Evaluate on every test set, train, evaluate again, write the report and the model.

    The first test set is the one validated during training and drawn in ``ranked.png``; its
    metrics are ``metrics.json``'s ``before``/``after``, and every test set's are under
    ``test_sets``.
    """
    model = build_model(resolved)
    trainer = Trainer(model, resolved.trainer, dist=dist)
    before = _evaluate(trainer, data, "before training:", echo)
    train_start = time.perf_counter()
    history = trainer.fit(data.train.train, _first_test(data))
    train_seconds = time.perf_counter() - train_start
    model_epoch = _choose_model(trainer, resolved, history, echo)
    after = _evaluate(trainer, data, "after training: ", echo)
    report = _write_run_report(
        resolved,
        data,
        out,
        model,
        before=before,
        after=after,
        history=history,
        train_seconds=train_seconds,
        model_epoch=model_epoch,
    )
    model.save_pretrained(out / "model")
    if not resolved.data.is_single:
        trained_on = " + ".join(s.label for s in resolved.data.train_sources)
        echo(cross_domain_table({k: v.metrics for k, v in after.items()}, trained_on=trained_on))
    return report


def _choose_model(
    trainer: Trainer, resolved: Recipe, history: History, echo: Callable[[str], Any]
) -> int:
    """The epoch whose weights the run keeps in ``model/`` and reports as "after training":
    the best validated one with ``trainer.output.keep_best``, else the last."""
    last = history[-1].epoch if len(history) else 0
    best = history.best()
    if not resolved.trainer.output.keep_best or best is None:
        return last
    epoch = trainer.load_best()
    echo(
        f"best epoch: {epoch} of {last} (validation mAP {best.mAP:.3f}); the run keeps its "
        "weights (trainer.output.keep_best)"
    )
    return epoch


def _first_test(data: TrainTestSplits) -> ReidSplits:
    """The test set validated during training, reported at the top of ``metrics.json``."""
    return next(iter(data.tests.values()))


def _evaluate(
    trainer: Trainer, data: TrainTestSplits, when: str, echo: Callable[[str], Any]
) -> dict[str, ValidationResult]:
    """Validate on every test set and echo Rank-1 and mAP (the same call before and after)."""
    results = {label: trainer.validate(test) for label, test in data.tests.items()}
    for label, result in results.items():
        on = f"  ({label})" if len(results) > 1 else ""
        metrics = result.metrics
        echo(f"{when} rank1 {metrics.cmc[0]:.3f}  mAP {metrics.mAP:.3f}{on}")
    return results


def _write_run_report(
    resolved: Recipe,
    data: TrainTestSplits,
    out: Path,
    model: SiameseEmbedder,
    *,
    before: dict[str, ValidationResult],
    after: dict[str, ValidationResult],
    history: History,
    train_seconds: float,
    model_epoch: int,
) -> dict[str, Any]:
    """:func:`write_report` for the first test set, with the ranked gallery and every set."""
    first, val = next(iter(data.tests.items()))
    best = history.best()
    mAP = after[first].metrics.mAP  # noqa: N806 - the field name every re-id paper uses
    ranked = rank_gallery(
        after[first].query_embeddings,
        after[first].gallery_embeddings,
        val.query,
        val.gallery,
        seed=resolved.trainer.seed,
    )
    return write_report(
        out,
        before=before[first].metrics,
        after=after[first].metrics,
        history=history,
        train_seconds=train_seconds,
        ranked=ranked,
        query=val.query,
        gallery=val.gallery,
        extra={
            "backbone": resolved.model.backbone,
            "input_size": list(resolved.model.input_size),
            "train_sets": [s.label for s in resolved.data.train_sources],
            "model_epoch": model_epoch,
            "best_epoch": None if best is None else best.epoch,
            "keep_best": resolved.trainer.output.keep_best,
        },
        title=f"{resolved.model.backbone}, epoch {model_epoch}, {first} test set: mAP {mAP:.3f}",
        model=model,
        test_sets={label: (before[label].metrics, after[label].metrics) for label in after},
    )


def _with_output(trainer: TrainerConfig, **changes: Any) -> TrainerConfig:
    """``trainer`` with some of its checkpoint-and-logging settings changed."""
    return replace(trainer, output=replace(trainer.output, **changes))
