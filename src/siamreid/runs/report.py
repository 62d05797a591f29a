"""The report of a training run: ``metrics.json``, ``losses.png``, ``ranked.png``, ``actmaps.png``.

Shared by ``siamreid demo`` and ``examples/reproduce_market1501.py`` so both write the same files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from siamreid._io import atomic_write_json
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.evaluation import RankMetrics, top_matches
from siamreid.training.history import History

if TYPE_CHECKING:
    from siamreid.models.embedder import SiameseEmbedder

__all__ = ["RankedMatches", "cross_domain_table", "rank_gallery", "write_report"]


@dataclass(frozen=True)
class RankedMatches:
    """Top gallery matches of a few queries, with the Market-1501 junk rule applied.

    Attributes:
        query_rows: Index of each shown query in the query list.
        gallery_rows: ``[num_queries, top_k]`` gallery indices, best first.
        distances: ``[num_queries, top_k]`` Euclidean distances.
        correct: ``[num_queries, top_k]`` whether the match is the query's identity.
    """

    query_rows: npt.NDArray[np.int64]
    gallery_rows: npt.NDArray[np.int64]
    distances: npt.NDArray[np.float32]
    correct: npt.NDArray[np.bool_]


def rank_gallery(
    query_emb: torch.Tensor,
    gallery_emb: torch.Tensor,
    query: list[ReidSample],
    gallery: list[ReidSample],
    *,
    num_queries: int = 6,
    top_k: int = 10,
    seed: int = 0,
) -> RankedMatches:
    """Rank the gallery for ``num_queries`` seeded queries by Euclidean distance.

    Gallery images of the query's identity from the query's camera are left out, by the
    evaluation protocol's own rule (:func:`~siamreid.evaluation.top_matches`).
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(query), size=min(num_queries, len(query)), replace=False))
    shown = [query[int(r)] for r in rows]
    q_cams, g_cams = ReidSplits.camids(shown), ReidSplits.camids(gallery)
    cams = (q_cams, g_cams) if q_cams is not None and g_cams is not None else (None, None)
    q_pids, g_pids = ReidSplits.pids(shown), ReidSplits.pids(gallery)
    top = top_matches(query_emb[rows], gallery_emb, q_pids, g_pids, *cams, k=top_k)
    return RankedMatches(rows.astype(np.int64), top.gallery_rows, top.distances, top.correct)


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    before: RankMetrics,
    after: RankMetrics,
    history: History,
    train_seconds: float,
    ranked: RankedMatches | None = None,
    query: list[ReidSample] | None = None,
    gallery: list[ReidSample] | None = None,
    extra: dict[str, Any] | None = None,
    model: SiameseEmbedder | None = None,
    test_sets: Mapping[str, tuple[RankMetrics, RankMetrics]] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Write ``metrics.json``, ``losses.png`` and (with ``ranked``) ``ranked.png``.

    ``before`` and ``after`` are the metrics of the first (or only) test set; ``test_sets``
    gives every test set's ``(before, after)`` by label, written under ``test_sets``.

    With ``model`` as well, ``actmaps.png`` shows what the backbone looks at in the ranked
    queries (:func:`~siamreid.viz.plot_activation_maps`). ``title`` heads ``ranked.png`` (the
    model, its epoch, the test set and its mAP); each of its rows names the query's person and
    camera.

    Returns:
        The content of ``metrics.json``.
    """
    import matplotlib.pyplot  # noqa: F401  (without siamreid[viz], fail before writing a file)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _metrics_record(before, after, history, train_seconds, extra, test_sets)
    atomic_write_json(out / "metrics.json", report)
    _draw(out, history, ranked, query, gallery, model, title)
    return report


def _metrics_record(
    before: RankMetrics,
    after: RankMetrics,
    history: History,
    train_seconds: float,
    extra: dict[str, Any] | None,
    test_sets: Mapping[str, tuple[RankMetrics, RankMetrics]] | None,
) -> dict[str, Any]:
    """The content of ``metrics.json``."""
    rates = [r.images_per_second for r in history]
    report: dict[str, Any] = {
        "before": before.to_dict(),
        "after": after.to_dict(),
        "train_seconds": float(train_seconds),
        "images_per_second": float(np.mean(rates)) if rates else 0.0,
        "epochs": len(history),
        **(extra or {}),
    }
    if test_sets is not None:
        report["test_sets"] = {
            label: {"before": b.to_dict(), "after": a.to_dict()}
            for label, (b, a) in test_sets.items()
        }
    return report


def _draw(
    out: Path,
    history: History,
    ranked: RankedMatches | None,
    query: list[ReidSample] | None,
    gallery: list[ReidSample] | None,
    model: SiameseEmbedder | None,
    title: str | None = None,
) -> None:
    """``losses.png``; with the ranked matches ``ranked.png``; with the model ``actmaps.png``."""
    import matplotlib.pyplot as plt

    from siamreid.viz import plot_activation_maps, plot_losses, plot_ranked_matches

    plt.close(plot_losses(history, out / "losses.png"))
    if ranked is None or query is None or gallery is None:
        return
    queries = [query[i].path for i in ranked.query_rows]
    fig = plot_ranked_matches(
        queries,
        [[gallery[j].path for j in row] for row in ranked.gallery_rows],
        ranked.correct,
        out / "ranked.png",
        distances=ranked.distances,
        title=title,
        query_labels=[_person(query[i]) for i in ranked.query_rows],
    )
    plt.close(fig)
    if model is not None:
        plt.close(plot_activation_maps(model, queries, out / "actmaps.png"))


def _person(sample: ReidSample) -> str:
    """``id 12 c3``: who a query is (camera 1-based, as ``siamreid search`` prints it)."""
    return f"id {sample.pid}" + ("" if sample.camid is None else f" c{sample.camid + 1}")


_TABLE_COLUMNS = (("Rank-1", "rank1"), ("Rank-5", "rank5"), ("Rank-10", "rank10"))


def cross_domain_table(results: Mapping[str, RankMetrics], *, trained_on: str) -> str:
    """The table re-id papers publish for cross-domain runs: one row per test set, in %.

    Args:
        results: The metrics of each test set, by label, in the order to print.
        trained_on: What the model was trained on (the training datasets, or the model).

    Example:
        >>> print(cross_domain_table({"dukemtmcreid": metrics}, trained_on="market1501"))
        ... # doctest: +SKIP
    """
    width = max(24, *(len(label) for label in results))
    titles = [title for title, _ in _TABLE_COLUMNS] + ["mAP", "mINP"]
    sizes = [max(6, len(title)) for title in titles]
    lines = [
        f"cross-domain results (%), trained on {trained_on}",
        f"  {'test set':<{width}} | "
        + " | ".join(f"{t:>{n}}" for t, n in zip(titles, sizes, strict=True)),
        f"  {'-' * width}-+-" + "-+-".join("-" * n for n in sizes),
    ]
    for label, metrics in results.items():
        values = metrics.to_dict()  # a rank beyond a tiny gallery is absent: n/a
        keys = [key for _, key in _TABLE_COLUMNS] + ["mAP", "mINP"]
        cells = " | ".join(
            f"{100 * values[k]:{n}.1f}" if k in values else f"{'n/a':>{n}}"
            for k, n in zip(keys, sizes, strict=True)
        )
        lines.append(f"  {label:<{width}} | {cells}")
    return "\n".join(lines)
