"""Market-1501-sized k-reciprocal re-ranking: siamreid against the dense reference algorithm.

Times, from the same synthetic features, ``re_rank_features`` (sparse, never N x N),
``re_rank`` (from the three dense distance matrices, their computation included) and a dense
re-ranking written here the way the reference code shipped by torchreid and fast-reid does it
(N x N arrays, a loop per item), each in its own process for a clean peak-memory figure;
checks that the distances and Rank-1/mAP agree, and writes the ``rerank`` section of
docs/benchmarks.md.

Usage::

    python benchmarks/bench_rerank.py           # ~2.5 minutes and ~11 GB (the reference)
    python benchmarks/bench_rerank.py --quick   # a few seconds, small problem, writes nothing
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from _report import emit, markdown_table, peak_rss_mb, reset_peak_rss, run_child, write_section
from bench_eval import FULL, NOISE, QUICK, Arrays, market_like, squared_distances

F32 = npt.NDArray[np.float32]


def _reciprocal(rank: npt.NDArray[np.int32], i: int, k: int) -> Any:
    """Items among ``i``'s ``k + 1`` nearest that also have ``i`` among theirs."""
    forward = rank[i, : k + 1]
    return forward[np.where(rank[forward, : k + 1] == i)[0]]


def reference_re_rank(
    q_g: F32, q_q: F32, g_g: F32, k1: int = 20, k2: int = 6, lambda_value: float = 0.3
) -> F32:
    """Dense k-reciprocal re-ranking (Zhong et al., 2017) on N x N arrays, item by item."""
    num_q = q_g.shape[0]
    full = np.block([[q_q, q_g], [q_g.T, g_g]])
    orig = np.power(full, 2).astype(np.float32)
    del full
    orig = np.transpose(orig / np.max(orig, axis=0))
    n = orig.shape[0]
    rank = np.argsort(orig).astype(np.int32)
    v = np.zeros_like(orig)
    half = int(np.around(k1 / 2.0))

    for i in range(n):
        own = _reciprocal(rank, i, k1)
        expanded = own
        for c in own:
            cand = _reciprocal(rank, c, half)
            if len(np.intersect1d(cand, own)) > 2.0 / 3.0 * len(cand):
                expanded = np.append(expanded, cand)
        expanded = np.unique(expanded)
        weight = np.exp(-orig[i, expanded])
        v[i, expanded] = weight / np.sum(weight)
    orig = orig[:num_q]
    if k2 != 1:
        v = np.stack([np.mean(v[rank[i, :k2]], axis=0) for i in range(n)])
    del rank
    inverted = [np.where(v[:, c] != 0)[0] for c in range(n)]
    jaccard = np.zeros_like(orig)
    for i in range(num_q):
        overlap = np.zeros(n, dtype=np.float32)
        for c in np.where(v[i] != 0)[0]:
            overlap[inverted[c]] += np.minimum(v[i, c], v[inverted[c], c])
        jaccard[i] = 1 - overlap / (2.0 - overlap)
    final = (jaccard * (1 - lambda_value) + orig * lambda_value)[:, num_q:]
    return final.astype(np.float32, copy=False)


def _dense(data: Arrays) -> tuple[F32, F32, F32]:
    q, g = data["q_feats"], data["g_feats"]
    return squared_distances(q, g), squared_distances(q, q), squared_distances(g, g)


def _siamreid_features(data: Arrays) -> F32:
    from siamreid.evaluation import re_rank_features

    return re_rank_features(data["q_feats"], data["g_feats"])


def _siamreid_dense(data: Arrays) -> F32:
    from siamreid.evaluation import re_rank

    return re_rank(*_dense(data))


def _reference(data: Arrays) -> F32:
    return reference_re_rank(*_dense(data))


METHODS: dict[str, Callable[[Arrays], F32]] = {
    "siamreid re_rank_features": _siamreid_features,
    "siamreid re_rank (dense matrices)": _siamreid_dense,
    "reference: dense re-ranking": _reference,
}


def _metrics(distmat: F32, data: Arrays) -> dict[str, float]:
    from siamreid.evaluation import evaluate_rank

    m = evaluate_rank(distmat, data["q_pids"], data["g_pids"], data["q_cams"], data["g_cams"])
    return {"rank1": m.rank1, "mAP": m.mAP}


def _measure(method: str, folder: Path) -> dict[str, Any]:
    data = dict(np.load(folder / "data.npz"))
    baseline = reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    final = METHODS[method](data)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = peak_rss_mb() - baseline
    np.save(folder / f"{list(METHODS).index(method)}.npy", final)
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak, **_metrics(final, data)}


def child(method: str, folder: Path) -> None:
    """Run one method on the saved features; emit its time, peak memory and metrics."""
    import torch

    import siamreid.evaluation  # noqa: F401  (imports count towards the baseline)

    torch.set_num_threads(2)
    emit(_measure(method, folder))


def _row(method: str, r: dict[str, Any], ref: dict[str, Any], diff: float) -> list[str]:
    peak = "n/a" if np.isnan(r["peak_mb"]) else f"{r['peak_mb']:.0f}"
    return [
        method,
        f"{r['seconds']:.1f}",
        f"{ref['seconds'] / r['seconds']:.1f}x",
        f"{r['cpu']:.1f}",
        f"{ref['cpu'] / r['cpu']:.1f}x",
        peak,
        f"{r['rank1']:.4f}",
        f"{r['mAP']:.4f}",
        f"{diff:.1e}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, in-process, no doc")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return
    import siamreid.evaluation  # noqa: F401  (in-process runs should not time the import)

    sizes = QUICK if args.quick else FULL
    data = market_like(**sizes, noise=NOISE, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.savez(folder / "data.npz", **data)  # type: ignore[arg-type]
        results = {}
        for method in METHODS:
            if args.quick:
                results[method] = {**_measure(method, folder), "peak_mb": float("nan")}
            else:
                results[method] = run_child([__file__, "--child", method, "--data", str(folder)])
        outputs = [np.load(folder / f"{i}.npy") for i in range(len(METHODS))]
    plain = _metrics(squared_distances(data["q_feats"], data["g_feats"]), data)
    ref = results["reference: dense re-ranking"]
    rows = [
        _row(m, r, ref, float(np.abs(out - outputs[-1]).max()))
        for (m, r), out in zip(results.items(), outputs, strict=True)
    ]
    worst = max(float(np.abs(out - outputs[-1]).max()) for out in outputs)
    assert worst < 1e-4, f"re-ranked distances differ from the reference's by {worst}"
    headers = ["method", "wall s", "speed-up", "CPU s", "CPU ratio", "peak MB", "Rank-1", "mAP"]
    headers.append("max abs diff")
    table = markdown_table(headers, rows)
    n = sizes["num_query"] + sizes["num_gallery"]
    body = (
        "## k-reciprocal re-ranking (`bench_rerank.py`)\n\n"
        f"{sizes['num_query']} queries + {sizes['num_gallery']} gallery items (N = {n}), "
        f"{sizes['dim']}-d features, {sizes['num_ids']} identities, k1=20, k2=6, lambda=0.3; "
        "every method starts from the features (the dense ones compute the three squared "
        "Euclidean distance matrices first). Max abs diff: largest difference of the re-ranked "
        "distances from the reference's. Peak MB: above the child's post-import baseline. "
        "The machine is shared (load at start below), so wall times vary from run to run; CPU "
        "seconds (all threads) are steadier.\n\n"
        f"{table}\n\nWithout re-ranking: Rank-1 {plain['rank1']:.4f}, mAP {plain['mAP']:.4f} "
        "(these synthetic identity clusters are easy for re-ranking; what matters here is that "
        "all three agree)."
    )
    print(body)
    if not (args.quick or args.no_write):
        print(f"\nwrote {write_section('rerank', body)}")


if __name__ == "__main__":
    main()
