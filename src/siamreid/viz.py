"""Pictures of a run: loss/metric curves, ranked matches, CMC curve, activation maps.

Drawing needs ``siamreid[viz]`` (matplotlib); :func:`activation_energy` and
:func:`activation_maps` compute with PyTorch alone.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn

from siamreid._io import atomic_write_stream
from siamreid.data.images import load_image
from siamreid.errors import InputError
from siamreid.training.history import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from siamreid.models.embedder import ImageInput, SiameseEmbedder

__all__ = [
    "MIN_MAP_SIZE",
    "activation_energy",
    "activation_maps",
    "plot_activation_maps",
    "plot_cmc",
    "plot_history",
    "plot_losses",
    "plot_ranked_matches",
]

_GREEN, _RED, _GREY = "#1a9850", "#d73027", "#9e9e9e"
_SMALL_DPI = 80  # the photo grids: enough for 64x128 crops, and a small file


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("siamreid.viz needs matplotlib: pip install 'siamreid[viz]'.") from err
    return plt


def _save(
    fig: Figure, path: str | os.PathLike[str] | None, dpi: int = 110, *, palette: bool = False
) -> Figure:
    """Save to ``path`` (when given, atomically); ``palette``: a PNG of 256 colours, a third of
    the bytes of a grid of photos in full colour."""
    if path is None:
        return fig
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    kind = target.suffix[1:].lower() or "png"  # the temporary file's name says nothing
    if not (palette and kind == "png"):
        atomic_write_stream(
            target, lambda fh: fig.savefig(fh, format=kind, dpi=dpi, bbox_inches="tight")
        )
        return fig
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    with Image.open(buffer) as image:
        quantized = image.convert("RGB").quantize(colors=256)
    atomic_write_stream(target, lambda fh: quantized.save(fh, format="PNG", optimize=True))
    return fig


def _series(history: History, name: str) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for record in history:
        value = getattr(record, name)
        if value is not None and np.isfinite(value):
            epochs.append(record.epoch)
            values.append(float(value))
    return epochs, values


def _term_series(history: History, field: str, term: str) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for record in history:
        value = getattr(record, field).get(term)
        if value is not None and np.isfinite(value):
            epochs.append(record.epoch)
            values.append(float(value))
    return epochs, values


def _loss_terms(history: History) -> list[str]:
    """Loss term names in first-seen order: terms with a validation value first."""
    seen: dict[str, bool] = {}
    for record in history:
        for name in record.train_terms:
            seen.setdefault(name, False)
        for name in record.val_terms:
            seen[name] = True
    return sorted(seen, key=lambda name: not seen[name])


def _term_axes(ax: Any, history: History, term: str) -> None:
    """One loss term: its train and (where measured) validation values per epoch."""
    for field, label in (("train_terms", "train"), ("val_terms", "validation")):
        epochs, values = _term_series(history, field, term)
        if values:
            ax.plot(epochs, values, marker="o", label=label)
    only_train = not any(term in record.val_terms for record in history)
    ax.set_title(f"{term} loss" + (" (train only)" if only_train else ""))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (unweighted)")
    ax.grid(alpha=0.3)
    ax.legend()


def _total_axes(ax: Any, history: History) -> None:
    """The weighted train loss, for histories without per-term values."""
    epochs, values = _series(history, "train_loss")
    ax.set_title("Train loss (weighted sum)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if values:
        ax.plot(epochs, values, marker="o", label="train")
        ax.legend()


def _metric_axes(ax: Any, history: History, names: Sequence[str]) -> None:
    labels = {"rank1": "Rank-1", "triplet_accuracy": "triplet accuracy"}
    for name in names:
        epochs, values = _series(history, name)
        if values:
            ax.plot(epochs, values, marker="o", label=labels.get(name, name))
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.02)
    ax.set_title("Validation on held-out identities")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "not validated", ha="center", va="center", transform=ax.transAxes)


def _history_figure(history: History, metrics: Sequence[str]) -> Figure:
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    terms = _loss_terms(history)
    panels = max(len(terms), 1) + 1
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), squeeze=False)
    for ax, term in zip(axes[0], terms, strict=False):
        _term_axes(ax, history, term)
    if not terms:
        _total_axes(axes[0, 0], history)
    _metric_axes(axes[0, -1], history, metrics)
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig  # type: ignore[no-any-return]


def plot_losses(history: History, path: str | os.PathLike[str] | None = None) -> Figure:
    """Each loss term, train beside validation, and validation Rank-1 / mAP per epoch.

    One panel per loss term compares like with like: the unweighted train value and, for the
    metric terms, the value on held-out identities. An identity (classification) term has no
    validation value (its classifier cannot score unseen identities), so its panel says
    "train only". The last panel holds validation Rank-1 and mAP. Saved to ``path`` when given.

    Example:
        >>> plot_losses(history, "runs/bot/losses.png")  # doctest: +SKIP
    """
    return _save(_history_figure(history, ("rank1", "mAP")), path)


def plot_history(history: History, path: str | os.PathLike[str] | None = None) -> Figure:
    """As :func:`plot_losses`, with mINP and triplet accuracy beside Rank-1 and mAP."""
    return _save(_history_figure(history, ("rank1", "mAP", "mINP", "triplet_accuracy")), path)


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


def _show(
    ax: Any, image_path: str | os.PathLike[str], color: str | None, title: str, note: str | None
) -> None:
    if note is None:
        ax.imshow(np.asarray(load_image(image_path)))
    else:  # a placeholder: the image is not opened
        ax.set_facecolor("#dddddd")
        ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True, fontsize=5)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(color is not None)
        if color is not None:
            spine.set_edgecolor(color)
            spine.set_linewidth(4)
    ax.set_title(title, fontsize=7)


def _frame(hit: bool, labelled: bool) -> str:
    return _GREY if not labelled else _GREEN if hit else _RED


def plot_ranked_matches(
    query_paths: Sequence[str | os.PathLike[str]],
    ranked_paths: Sequence[Sequence[str | os.PathLike[str]]],
    correct: npt.ArrayLike,
    path: str | os.PathLike[str] | None = None,
    *,
    distances: npt.ArrayLike | None = None,
    withheld: Sequence[Sequence[str | None]] | None = None,
    title: str | None = None,
    query_labels: Sequence[str] | None = None,
    labelled: Sequence[bool] | None = None,
) -> Figure:
    """A grid: each row a query then its ranked gallery matches, green = same person, red = not.

    Args:
        query_paths: One image per row.
        ranked_paths: For each query, its top gallery images, best first.
        correct: ``[num_queries, top_k]`` booleans, whether each match is the query's identity.
        path: Where to save the PNG (small: 80 dpi, a few hundred kB for 6 rows of 10).
        distances: Optional ``[num_queries, top_k]`` distances shown above each match.
        withheld: Optional ``[num_queries][top_k]`` notes: where one is given, a grey tile
            with the note is drawn and that match's image is never opened.
        title: Heading of the figure (e.g. the model, its epoch, the test set and its mAP).
        query_labels: Who each query is (``id 12 c3``), shown under ``query``.
        labelled: Whether each query's identity is known; the matches of an unknown one get
            neutral grey frames (``correct`` is ignored for its row). Default: all known.

    Example:
        >>> plot_ranked_matches(queries, matches, hits, "ranked.png", title="epoch 3")
        ... # doctest: +SKIP
    """
    plt = _pyplot()
    hits = np.asarray(correct, dtype=bool)
    dists = None if distances is None else np.asarray(distances, dtype=float)
    rows, top_k = hits.shape
    known = [True] * rows if labelled is None else list(labelled)
    fig, axes = plt.subplots(
        rows, top_k + 1, figsize=(1.1 * (top_k + 1), 2.2 * rows), squeeze=False
    )
    for row in range(rows):
        name = "query" if query_labels is None else f"query\n{query_labels[row]}"
        _show(axes[row, 0], query_paths[row], None, name, None)
        for col in range(top_k):
            caption = f"#{col + 1}" + ("" if dists is None else f" {dists[row, col]:.2f}")
            color = _frame(bool(hits[row, col]), known[row])
            note = None if withheld is None else withheld[row][col]
            _show(axes[row, col + 1], ranked_paths[row][col], color, caption, note)
    if title is not None:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi=_SMALL_DPI, palette=True)


def activation_energy(feature_map: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Where a feature map is active: torchreid's activation map, per image in [0, 1].

    The energy of each position is the sum of squares over channels; it is upsampled
    (bilinear) to ``size`` and rescaled so each image's least active pixel is 0 and its most
    active is 1 (a constant map is all 0).

    Args:
        feature_map: ``[N, C, h, w]`` output of a backbone's last stage.
        size: ``(height, width)`` of the maps returned, usually the input's.

    Returns:
        ``[N, height, width]`` float32 maps.

    Example:
        >>> feats = torch.zeros(1, 2, 2, 2); feats[0, :, 0, 1] = 1.0
        >>> activation_energy(feats, (2, 2))[0]
        tensor([[0., 1.],
                [0., 0.]])
    """
    if feature_map.dim() != 4:
        raise InputError(f"feature_map must be [N, C, h, w]; got shape {tuple(feature_map.shape)}.")
    energy = feature_map.float().pow(2).sum(dim=1, keepdim=True)
    energy = nn.functional.interpolate(energy, size=size, mode="bilinear", align_corners=False)
    energy = energy[:, 0]
    low = energy.flatten(1).min(dim=1).values.view(-1, 1, 1)
    high = energy.flatten(1).max(dim=1).values.view(-1, 1, 1)
    return (energy - low) / (high - low).clamp_min(1e-12)


def _feature_map(backbone: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The backbone's last feature map as ``[N, C, h, w]`` (CNNs, NHWC stages, ViT tokens)."""
    forward_features = getattr(backbone, "forward_features", None)
    if not callable(forward_features):
        raise InputError(
            f"{type(backbone).__name__} has no forward_features; activation maps need a timm "
            "backbone that returns its last feature map."
        )
    raw = forward_features(batch)
    out: torch.Tensor = raw[-1] if isinstance(raw, (list, tuple)) else raw
    if out.dim() == 4:
        channels_last = getattr(backbone, "output_fmt", "NCHW") == "NHWC"
        return out.permute(0, 3, 1, 2) if channels_last else out
    if out.dim() == 3:  # transformer tokens: drop class/register tokens, lay the rest on the grid
        tokens = out[:, int(getattr(backbone, "num_prefix_tokens", 0)) :]
        grid = getattr(getattr(backbone, "patch_embed", None), "grid_size", None)
        if grid is not None and int(grid[0]) * int(grid[1]) == tokens.shape[1]:
            height, width = int(grid[0]), int(grid[1])
            return tokens.transpose(1, 2).reshape(len(tokens), -1, height, width)
    raise InputError(
        f"Cannot lay {type(backbone).__name__}'s features of shape {tuple(out.shape)} on an "
        "image grid; activation maps need [N, C, h, w] maps or patch tokens."
    )


#: The coarsest feature map activation maps are taken from, (height, width) positions.
MIN_MAP_SIZE = (8, 4)


def _stage_map(backbone: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The deepest stage map of at least :data:`MIN_MAP_SIZE` positions (else the last), and
    the name of that stage.

    The last stage of a CNN at 64x32 is a 2x1 map: upsampled it shows nothing. timm's
    ``forward_intermediates`` gives every stage (channels first, ViT tokens on their grid).
    """
    intermediates = getattr(backbone, "forward_intermediates", None)
    if not callable(intermediates):
        return _feature_map(backbone, batch), "last stage"
    maps: list[torch.Tensor] = list(intermediates(batch, intermediates_only=True))
    low_h, low_w = MIN_MAP_SIZE
    big = [i for i, m in enumerate(maps) if m.shape[-2] >= low_h and m.shape[-1] >= low_w]
    index = big[-1] if big else len(maps) - 1
    info = getattr(backbone, "feature_info", None)
    names = [str(f.get("module", "")) for f in info] if isinstance(info, list) else []
    name = names[index] if len(names) == len(maps) and names[index] else f"stage {index + 1}"
    return maps[index], name


@torch.inference_mode()
def _activations(model: SiameseEmbedder, images: ImageInput) -> tuple[torch.Tensor, str]:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        batch = model.preprocess(images).to(device)
        feats, stage = _stage_map(model.backbone, batch)
    finally:
        model.train(was_training)
    height, width = feats.shape[-2:]
    maps = activation_energy(feats, model.config.input_size).cpu()
    return maps, f"{stage} ({height}x{width} positions)"


def activation_maps(model: SiameseEmbedder, images: ImageInput) -> torch.Tensor:
    """What the backbone looks at in each image: torchreid's :func:`activation_energy`.

    The map comes from the deepest stage with at least :data:`MIN_MAP_SIZE` (8x4) positions:
    the last stage at the usual 256x128 input, an earlier one for small inputs whose last
    map is too coarse to show anything (2x1 at 64x32). A backbone without timm's
    ``forward_intermediates`` gives its last map.

    Args:
        model: The embedder.
        images: What :meth:`~siamreid.SiameseEmbedder.embed` takes (paths, PIL images, uint8
            arrays or a preprocessed batch).

    Returns:
        ``[N, H, W]`` maps in [0, 1] at the model's input size, on CPU.

    Example:
        >>> maps = activation_maps(model, ["query.jpg"])  # doctest: +SKIP
    """
    return _activations(model, images)[0]


def plot_activation_maps(
    model: SiameseEmbedder,
    images: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str] | None = None,
    *,
    alpha: float = 0.6,
) -> Figure:
    """Each image above its activation map overlaid on it (jet colours, red = most active).

    As torchreid draws them: the energy of a backbone feature map (:func:`activation_maps`),
    upsampled to the model's input size and blended over the crop resized to the same size.
    The title names the stage and its resolution; a colour bar gives the scale.

    Args:
        model: The embedder.
        images: Image files, one column each.
        path: Where to save the PNG.
        alpha: Weight of the map in the overlay (0: the crop only, 1: the map only).

    Example:
        >>> plot_activation_maps(model, query_paths[:6], "runs/bot/actmaps.png")  # doctest: +SKIP
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1]; got {alpha}.")
    plt = _pyplot()
    paths = list(images)
    maps, stage = _activations(model, paths)
    height, width = model.config.input_size
    colours = plt.get_cmap("jet")
    fig, axes = plt.subplots(
        2, len(paths), figsize=(1.2 * len(paths) + 1.0, 4.6), squeeze=False, layout="constrained"
    )
    for col, (image_path, energy) in enumerate(zip(paths, maps.numpy(), strict=True)):
        crop = load_image(image_path).convert("RGB").resize((width, height))
        pixels = np.asarray(crop, dtype=np.float32) / 255.0
        overlay = (1.0 - alpha) * pixels + alpha * colours(energy)[..., :3]
        for row, picture in enumerate((pixels, overlay)):
            ax = axes[row, col]
            ax.imshow(np.clip(picture, 0.0, 1.0))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(Path(image_path).name, fontsize=5)
    axes[1, 0].set_ylabel("activation", fontsize=7)
    scale = plt.cm.ScalarMappable(norm=plt.Normalize(0.0, 1.0), cmap=colours)
    bar = fig.colorbar(scale, ax=axes[1, :].tolist(), shrink=0.9, aspect=15)
    bar.set_label("energy (per image, 0-1)", fontsize=6)
    bar.ax.tick_params(labelsize=6)
    fig.suptitle(f"Activation of {stage}, upsampled to {height}x{width}", fontsize=7)
    return _save(fig, path, dpi=_SMALL_DPI)
