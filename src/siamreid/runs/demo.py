"""The offline demo: synthetic data → evaluate → train a few CPU minutes → evaluate → report.

The recipe is data, ``configs/demo_cpu.yaml``, with the reasons for its settings as comments.
An installed wheel carries it as ``siamreid/configs/demo_cpu.yaml``; a source checkout (also
an editable install) reads the repository's ``configs/`` folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from siamreid.errors import ConfigError, RunFolderError
from siamreid.runs.folder import holds_run
from siamreid.runs.pipeline import run_recipe
from siamreid.training.recipe import Recipe, recipe_from_dict

__all__ = ["DEMO_CONFIG", "demo_config_text", "demo_recipe", "run_demo"]

DEMO_CONFIG = "demo_cpu.yaml"
# src/siamreid/runs/demo.py -> the repository root, where configs/ is
_SOURCE_CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def demo_config_text() -> str:
    """The text of ``demo_cpu.yaml``: the installed package's copy, else the checkout's.

    Raises:
        ConfigError: Neither is there (a broken install).
    """
    packaged = resources.files("siamreid") / "configs" / DEMO_CONFIG
    if packaged.is_file():
        return packaged.read_text("utf-8")
    source = _SOURCE_CONFIGS / DEMO_CONFIG
    if source.is_file():
        return source.read_text("utf-8")
    raise ConfigError(
        f"The demo's recipe {DEMO_CONFIG} is neither in the installed package "
        f"(siamreid/configs/) nor in {str(_SOURCE_CONFIGS)!r}; reinstall siamreid."
    )


def demo_recipe(
    out_dir: str | os.PathLike[str],
    *,
    backbone: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> Recipe:
    """The demo's recipe (``configs/demo_cpu.yaml``) with its synthetic data in ``out_dir/data``.

    Args:
        out_dir: The run folder; the data goes to ``out_dir/data``.
        backbone: ``model.backbone`` (default: the file's).
        epochs: ``trainer.epochs`` (default: the file's).
        seed: ``data.seed`` and ``trainer.seed`` (default: the file's).
    """
    data = yaml.safe_load(demo_config_text())
    data["data"]["root"] = str(Path(out_dir) / "data")
    if backbone is not None:
        data["model"]["backbone"] = backbone
    if epochs is not None:
        data["trainer"]["epochs"] = epochs
    if seed is not None:
        data["data"]["seed"] = data["trainer"]["seed"] = seed
    return recipe_from_dict(data)


def run_demo(
    out_dir: str | os.PathLike[str] = "runs/demo",
    recipe: Recipe | None = None,
    *,
    overwrite: bool = False,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Run the demo and write ``metrics.json``, ``losses.png`` and ``ranked.png`` to ``out_dir``.

    The demo always starts afresh: a folder that holds a run is refused unless ``overwrite``.

    Raises:
        RunFolderError: ``out_dir`` holds a run and ``overwrite`` is False, or holds files of
            no run.

    Example:
        >>> report = run_demo("runs/demo")  # doctest: +SKIP
        >>> report["after"]["mAP"] - report["before"]["mAP"]  # doctest: +SKIP
    """
    if not overwrite and holds_run(Path(out_dir)):  # the demo has no --resume to offer
        raise RunFolderError(
            f"Demo folder {str(out_dir)!r} already holds a run; nothing was changed. Pass "
            "--overwrite to run the demo again there (the folder is emptied first), or choose "
            "another --out."
        )
    return run_recipe(recipe or demo_recipe(out_dir), out_dir, overwrite=overwrite, echo=echo)
