"""The run folder of ``siamreid train``/``demo``: what counts as a run, and who may write it.

A run folder holds ``recipe.yaml`` (the resolved recipe, written before training starts),
``train/`` (checkpoints, ``metrics.jsonl``), ``log.txt`` (every line the run printed, appended
across resumes), and at the end ``metrics.json``, the pictures and ``model/``. The rules, in
one place:

- A new or empty folder starts a new run.
- A folder that holds a run is refused unless the caller resumes it (same recipe; only the
  fields in :data:`RESUMABLE_FIELDS` may change) or overwrites it (the folder is emptied first,
  so nothing old stays beside the new run).
- Overwriting deletes only what a run writes (:data:`RUN_FILES`): a folder that also holds
  the user's own files is refused, naming them, and nothing is deleted.
- A folder that holds files but no run is never written into.
- One process at a time: the folder's writer lock is held for the whole run.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from siamreid._io import LOCK_FILE
from siamreid._paths import foreign_entries, shown, unowned_entries
from siamreid.errors import RunFolderError
from siamreid.training.checkpoint import check_compatible, find_latest, load_checkpoint
from siamreid.training.recipe import Recipe, load_recipe

__all__ = [
    "LOG_FILE",
    "RECIPE_FILE",
    "RESUMABLE_FIELDS",
    "RUN_FILES",
    "check_resume",
    "check_run_folder",
    "clear_run_folder",
    "holds_run",
    "load_run_recipe",
    "run_log",
]

RECIPE_FILE = "recipe.yaml"
LOG_FILE = "log.txt"
TRAIN_FOLDER = "train"
_RUN_MARKERS = (RECIPE_FILE, TRAIN_FOLDER, "metrics.json", "model")
_EPOCH = "train/checkpoints/epoch_*"
_BEST_EPOCH = "train/checkpoints/best_epoch_*"
RUN_FILES = (
    *(RECIPE_FILE, LOG_FILE, "metrics.json", "losses.png", "ranked.png", "actmaps.png"),
    *("model/", "model/model.safetensors", "model/config.json"),
    *("train/", "train/metrics.jsonl", "train/config.json"),
    *("train/tensorboard/", "train/tensorboard/events.out.tfevents.*"),
    *("train/checkpoints/", "train/checkpoints/latest.json", f"{_EPOCH}/"),
    *(f"{_EPOCH}/model.safetensors", f"{_EPOCH}/state.pt", f"{_EPOCH}/meta.json"),
    *("train/checkpoints/best.json", f"{_BEST_EPOCH}/", f"{_BEST_EPOCH}/*"),
    *("train/trackers.json", "train/wandb/"),
)
"""What a run writes (``/``: a folder), relative to the run folder; ``*`` matches within a name.
Besides these, a run owns its writer lock, the temporaries of killed writes, and the synthetic
datasets ``siamreid demo`` generates in ``data/`` (each as its generator's manifest lists it)
and whatever W&B keeps in ``train/wandb/`` (its own tree)."""
_TRACKER_TREE = ("train", "wandb")
_DATA = "data"
# Fields that change neither the weights nor the order of anything a run computes.
RESUMABLE_FIELDS = frozenset(
    {
        "trainer.epochs",
        "trainer.runtime.num_workers",
        "trainer.runtime.device",
        "trainer.output.progress",
        "trainer.output.tensorboard",
        "trainer.output.trackers",
        "trainer.output.experiment",
        "trainer.output.run_name",
        "trainer.output.keep_checkpoints",
        "trainer.output.out_dir",
        "trainer.output.resume",
    }
)


def _entries(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(e for e in out.iterdir() if e.name != LOCK_FILE)


def holds_run(out: Path) -> bool:
    """Whether ``out`` holds (part of) a siamreid run."""
    return any((out / marker).exists() for marker in _RUN_MARKERS)


def check_run_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse what would clobber a run or write into someone else's folder.

    Raises:
        RunFolderError: ``out`` is a file; holds files of no run; or holds a run and neither
            ``resume`` nor ``overwrite`` is set.
    """
    if resume and overwrite:
        raise RunFolderError("Pass --resume (continue the run) or --overwrite, not both.")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"Run folder {str(out)!r} is a file; choose a folder for --out.")
    entries = _entries(out)
    if not entries:
        return
    if not holds_run(out):
        shown = ", ".join(e.name for e in entries[:4]) + (", ..." if entries[4:] else "")
        raise RunFolderError(
            f"Run folder {str(out)!r} holds files of no siamreid run ({shown}); nothing was "
            "changed. Choose a new or empty folder for --out."
        )
    if not (resume or overwrite):
        raise RunFolderError(
            f"Run folder {str(out)!r} already holds a run; nothing was changed. Pass --resume to "
            "continue it, or --overwrite to start again (the folder is emptied first)."
        )
    if overwrite:
        _refuse_foreign(out)


def _owned(relative: PurePosixPath, is_dir: bool) -> bool:
    """Whether a run writes ``relative`` (a folder when ``is_dir``): see :data:`RUN_FILES`."""
    if relative.parts[0] == _DATA and (is_dir or len(relative.parts) > 1):
        return True  # generated datasets: checked against their manifests (_foreign)
    if relative.parts[:2] == _TRACKER_TREE and len(relative.parts) > 2:
        return True
    for pattern in RUN_FILES:
        parts = PurePosixPath(pattern).parts
        if pattern.endswith("/") != is_dir or len(parts) != len(relative.parts):
            continue
        if all(fnmatchcase(name, p) for name, p in zip(relative.parts, parts, strict=True)):
            return True
    return False


def _foreign(out: Path) -> list[Path]:
    """What in ``out`` no run wrote: see :data:`RUN_FILES`."""
    foreign = foreign_entries(out, _owned)
    data = out / _DATA
    if data.is_dir() and not data.is_symlink():
        for entry in sorted(data.iterdir()):
            generated = entry.is_dir() and not entry.is_symlink()
            foreign += unowned_entries(entry) if generated else [entry]
    return sorted(foreign)


def _refuse_foreign(out: Path) -> None:
    foreign = _foreign(out)
    if foreign:
        raise RunFolderError(
            f"Run folder {str(out)!r} holds {len(foreign)} file(s) no run writes "
            f"({shown(foreign, out)}); --overwrite would delete them, so nothing was changed. "
            "Move them out of the folder (or choose another --out) and try again."
        )


def clear_run_folder(out: Path) -> None:
    """Empty a run folder (its writer lock stays): nothing old is left beside a new run.

    Raises:
        RunFolderError: The folder holds files no run writes (they are named; nothing is
            deleted).
    """
    _refuse_foreign(out)
    for entry in _entries(out):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextmanager
def run_log(out: Path) -> Iterator[Callable[[str], None]]:
    """Keep ``out/log.txt``: siamreid's log records (INFO and up) and every line given to the
    function this yields, each stamped with the time, appended (a resumed run continues it).

    The file is opened at the first line, so a run refused before it printed anything leaves
    no file behind; a run stopped by an error after that ends its log with the error.
    siamreid's logger is lowered to INFO while the log is kept (and restored after), so the
    file holds the epoch lines whatever the console shows.
    """
    handler = logging.FileHandler(out / LOG_FILE, mode="a", encoding="utf-8", delay=True)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", _TIME))
    logger = logging.getLogger("siamreid")
    level = logger.level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)

    def write(line: str) -> None:
        record = {"name": "siamreid.runs", "msg": line, "levelno": logging.INFO}
        handler.handle(logging.makeLogRecord({**record, "levelname": "INFO"}))

    try:
        yield write
    except BaseException as err:
        if handler.stream is not None:  # the run had started: its log says how it ended
            write(f"stopped by {type(err).__name__}: {err}".rstrip(": "))
        raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


_TIME = "%Y-%m-%d %H:%M:%S"


def check_resume(out: Path, recipe: Recipe) -> Recipe | None:
    """The run's stored recipe, after checking that ``recipe`` may resume it.

    Args:
        out: The run folder.
        recipe: The recipe given now; a ``model.num_classes`` of 0 takes the stored value.

    Returns:
        The stored recipe, or ``None`` when the folder holds no run yet (a fresh start).

    Raises:
        RunFolderError: The recipes differ in a field outside :data:`RESUMABLE_FIELDS`, or the
            last checkpoint was made for another model (both values are named).
    """
    path = out / RECIPE_FILE
    if not path.is_file():
        return None
    stored = load_recipe(path)
    if recipe.model.num_classes == 0:
        recipe = replace(recipe, model=replace(recipe.model, num_classes=stored.model.num_classes))
    changed = [
        f"{key} ({old!r} in {RECIPE_FILE}, {new!r} now)"
        for key, old, new in _differences(stored.to_dict(), recipe.to_dict())
        if key not in RESUMABLE_FIELDS
    ]
    if changed:
        raise RunFolderError(
            f"Cannot resume {str(out)!r} with another recipe: {'; '.join(changed[:4])}. Nothing "
            "was changed. Resume with the run's own recipe (omit --config to use it), or start "
            "again with --overwrite."
        )
    latest = find_latest(out / TRAIN_FOLDER / "checkpoints")
    if latest is not None:
        # read whole (the Trainer reads it again): a corrupt checkpoint must fail here, before
        # anything of the run is rewritten, not after the data is loaded
        meta = load_checkpoint(latest).meta
        expected = {
            "backbone": stored.model.backbone,
            "embedding_dim": stored.model.embedding_dim,
            "num_classes": stored.model.num_classes,
        }
        check_compatible(meta, expected, latest)
    return stored


def load_run_recipe(
    out: str | os.PathLike[str],
    config: str | os.PathLike[str] | None,
    overrides: list[str] | None = None,
    *,
    resume: bool = False,
) -> Recipe:
    """The recipe ``siamreid train`` runs: ``config`` with ``overrides``.

    Resuming without ``config``, the run's own ``recipe.yaml`` is the config (with no config
    and no stored recipe, the defaults).
    """
    stored = Path(out) / RECIPE_FILE
    if config is None and resume and stored.is_file():
        config = stored
    return load_recipe(config, overrides)


def _differences(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _differences(old.get(key), new.get(key), name)
        return out
    return [] if old == new else [(prefix, old, new)]
