"""The report of a training run: ``metrics.json``, ``losses.png``, ``ranked.png``, ``actmaps.png``.

Shared by ``siamreid demo`` and ``examples/reproduce_market1501.py`` so both write the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from siamreid._io import atomic_write_json
from siamreid.data.samples import ReidSample
from siamreid.evaluation import RankMetrics
from siamreid.training.history import History

if TYPE_CHECKING:
    from siamreid.models.embedder import SiameseEmbedder

__all__ = ["RankedMatches", "rank_gallery", "write_report"]


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

    Gallery images of the query's identity from the query's camera are left out, as the
    evaluation protocol ignores them.
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(query), size=min(num_queries, len(query)), replace=False))
    dist = torch.cdist(query_emb[rows], gallery_emb).numpy()
    g_pids = np.asarray([s.pid for s in gallery])
    g_cams = np.asarray([-1 if s.camid is None else s.camid for s in gallery])
    ranked, dists, hits = [], [], []
    for row, d in zip(rows, dist, strict=True):
        q = query[row]
        junk = (g_pids == q.pid) & (g_cams == (-1 if q.camid is None else q.camid))
        if q.camid is None:
            junk[:] = False
        d = np.where(junk, np.inf, d)
        order = np.argsort(d, kind="stable")[:top_k]
        ranked.append(order)
        dists.append(d[order])
        hits.append(g_pids[order] == q.pid)
    return RankedMatches(
        rows.astype(np.int64),
        np.asarray(ranked, dtype=np.int64),
        np.asarray(dists, dtype=np.float32),
        np.asarray(hits, dtype=bool),
    )


def _metrics_dict(metrics: RankMetrics) -> dict[str, float]:
    cmc = np.asarray(metrics.cmc, dtype=float)

    def rank(k: int) -> float:
        return float(cmc[min(k, len(cmc)) - 1])

    return {
        "rank1": rank(1),
        "rank5": rank(5),
        "rank10": rank(10),
        "mAP": float(metrics.mAP),
        "mINP": float(metrics.mINP),
    }


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
) -> dict[str, Any]:
    """Write ``metrics.json``, ``losses.png`` and (with ``ranked``) ``ranked.png``.

    With ``model`` as well, ``actmaps.png`` shows what the backbone looks at in the ranked
    queries (:func:`~siamreid.viz.plot_activation_maps`).

    Returns:
        The content of ``metrics.json``.
    """
    import matplotlib.pyplot as plt

    from siamreid.viz import plot_activation_maps, plot_losses, plot_ranked_matches

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rates = [r.images_per_second for r in history]
    report: dict[str, Any] = {
        "before": _metrics_dict(before),
        "after": _metrics_dict(after),
        "train_seconds": float(train_seconds),
        "images_per_second": float(np.mean(rates)) if rates else 0.0,
        "epochs": len(history),
        **(extra or {}),
    }
    atomic_write_json(out / "metrics.json", report)
    plt.close(plot_losses(history, out / "losses.png"))
    if ranked is not None and query is not None and gallery is not None:
        fig = plot_ranked_matches(
            [query[i].path for i in ranked.query_rows],
            [[gallery[j].path for j in row] for row in ranked.gallery_rows],
            ranked.correct,
            out / "ranked.png",
            distances=ranked.distances,
        )
        plt.close(fig)
        if model is not None:
            queries = [query[i].path for i in ranked.query_rows]
            plt.close(plot_activation_maps(model, queries, out / "actmaps.png"))
    return report
