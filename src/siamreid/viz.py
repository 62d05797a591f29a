"""Pictures of a run: loss/metric curves, ranked matches, CMC curve (needs ``siamreid[viz]``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siamreid.data.images import load_image
from siamreid.training.history import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_cmc", "plot_history", "plot_losses", "plot_ranked_matches"]

_GREEN, _RED = "#1a9850", "#d73027"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("siamreid.viz needs matplotlib: pip install 'siamreid[viz]'.") from err
    return plt


def _save(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _series(history: History, name: str) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for record in history:
        value = getattr(record, name)
        if value is not None and np.isfinite(value):
            epochs.append(record.epoch)
            values.append(float(value))
    return epochs, values


def _loss_axes(ax: Any, history: History) -> None:
    for name, label in (("train_loss", "train"), ("val_loss", "validation")):
        epochs, values = _series(history, name)
        if values:
            ax.plot(epochs, values, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss per epoch")
    ax.grid(alpha=0.3)
    ax.legend()


def plot_losses(history: History, path: str | os.PathLike[str] | None = None) -> Figure:
    """Train and validation loss per epoch; saved to ``path`` when given.

    Note that the validation loss holds only the metric terms (an identity classifier cannot
    score unseen identities), so it sits below a train loss that includes the identity term.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    _loss_axes(ax, history)
    return _save(fig, path)


def plot_history(history: History, path: str | os.PathLike[str] | None = None) -> Figure:
    """Loss curves and validation Rank-1 / mAP / mINP / triplet accuracy per epoch."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    _loss_axes(left, history)
    for name in ("rank1", "mAP", "mINP", "triplet_accuracy"):
        epochs, values = _series(history, name)
        if values:
            right.plot(epochs, values, marker="o", label=name)
    right.set_xlabel("epoch")
    right.set_ylim(0, 1.02)
    right.set_title("Validation on held-out identities")
    right.grid(alpha=0.3)
    right.legend()
    return _save(fig, path)


def plot_cmc(
    cmc: npt.ArrayLike, path: str | os.PathLike[str] | None = None, *, label: str = "CMC"
) -> Figure:
    """The cumulative matching characteristic: Rank-k accuracy against k."""
    plt = _pyplot()
    values = np.asarray(cmc, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=label)
    ax.set_xlabel("rank k")
    ax.set_ylabel("matching rate")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _show(ax: Any, image_path: str | os.PathLike[str], color: str | None, title: str) -> None:
    ax.imshow(np.asarray(load_image(image_path)))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(color is not None)
        if color is not None:
            spine.set_edgecolor(color)
            spine.set_linewidth(4)
    ax.set_title(title, fontsize=7)


def plot_ranked_matches(
    query_paths: Sequence[str | os.PathLike[str]],
    ranked_paths: Sequence[Sequence[str | os.PathLike[str]]],
    correct: npt.ArrayLike,
    path: str | os.PathLike[str] | None = None,
    *,
    distances: npt.ArrayLike | None = None,
) -> Figure:
    """A grid: each row a query then its ranked gallery matches, green = same person, red = not.

    Args:
        query_paths: One image per row.
        ranked_paths: For each query, its top gallery images, best first.
        correct: ``[num_queries, top_k]`` booleans, whether each match is the query's identity.
        path: Where to save the PNG.
        distances: Optional ``[num_queries, top_k]`` distances shown above each match.
    """
    plt = _pyplot()
    hits = np.asarray(correct, dtype=bool)
    dists = None if distances is None else np.asarray(distances, dtype=float)
    rows, top_k = hits.shape
    fig, axes = plt.subplots(
        rows, top_k + 1, figsize=(1.1 * (top_k + 1), 2.2 * rows), squeeze=False
    )
    for row in range(rows):
        _show(axes[row, 0], query_paths[row], None, "query")
        for col in range(top_k):
            title = f"#{col + 1}" + ("" if dists is None else f" {dists[row, col]:.2f}")
            color = _GREEN if hits[row, col] else _RED
            _show(axes[row, col + 1], ranked_paths[row][col], color, title)
    fig.tight_layout()
    return _save(fig, path)
