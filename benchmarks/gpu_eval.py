"""Part 3 of the GPU benchmark: Market-size evaluation and re-ranking on CUDA tensors.

3,368 x 19,732 features, 512-d: ``evaluate_features``, ``evaluate_rank`` on given distances, and
k-reciprocal ``re_rank_features``.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from _gpu import Sizes, free, timed
from _report import markdown_table
from bench_eval import NOISE, market_like

from siamreid import evaluate_features, evaluate_rank, re_rank_features


def measure(sizes: Sizes) -> dict[str, Any]:
    """Market-size evaluation and re-ranking with the features on the device."""
    device = torch.device(sizes.device)
    data = market_like(**sizes.eval_sizes, noise=NOISE, seed=0)
    q = torch.from_numpy(data["q_feats"]).to(device)
    g = torch.from_numpy(data["g_feats"]).to(device)
    labels = (data["q_pids"], data["g_pids"], data["q_cams"], data["g_cams"])
    features = functools.partial(evaluate_features, q, g, *labels)
    feats_s, metrics = timed(features, device, 3, warm_up=features)
    distmat = torch.cdist(q, g).square_()
    rank = functools.partial(evaluate_rank, distmat, *labels)
    rank_s, _ = timed(rank, device, 3, warm_up=rank)
    # Re-ranking is timed once; its warm-up (CUDA kernels, allocator) runs on a slice.
    rerank_s, final = timed(
        lambda: re_rank_features(q, g), device, 1, warm_up=lambda: re_rank_features(q[:50], g[:500])
    )
    reranked = evaluate_rank(final, *labels)
    free(device)
    return {
        "num_query": len(q),
        "num_gallery": len(g),
        "dim": q.shape[1],
        "evaluate_features_s": feats_s,
        "evaluate_rank_s": rank_s,
        "re_rank_features_s": rerank_s,
        "mAP": float(metrics.mAP),
        "mAP_reranked": float(reranked.mAP),
    }


def render(results: dict[str, Any]) -> list[str]:
    """The evaluation table of the ``gpu`` section."""
    lines: list[str] = []
    ev = results.get("eval")
    if ev is not None:
        lines += [
            f"Evaluation of {ev['num_query']:,} queries x {ev['num_gallery']:,} gallery, "
            f"{ev['dim']}-d features on the device (median seconds):",
            "",
            markdown_table(
                ["function", "seconds", "mAP"],
                [
                    ["`evaluate_features`", f"{ev['evaluate_features_s']:.3f}", f"{ev['mAP']:.3f}"],
                    ["`evaluate_rank` (distances given)", f"{ev['evaluate_rank_s']:.3f}", ""],
                    [
                        "`re_rank_features` (k1=20, k2=6)",
                        f"{ev['re_rank_features_s']:.2f}",
                        f"{ev['mAP_reranked']:.3f}",
                    ],
                ],
            ),
            "",
        ]
    return lines
