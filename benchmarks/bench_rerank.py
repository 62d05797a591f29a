"""k-reciprocal re-ranking at three sizes: siamreid against the dense reference algorithm.

Times, from the same synthetic features, ``re_rank_features`` (sparse, never N x N),
``re_rank`` (from the three dense distance matrices, their computation included) and a dense
re-ranking written here the way the reference code shipped by torchreid and fast-reid does it
(N x N arrays, a loop per item), each in its own process for a clean peak-memory figure, at
1,000 x 4,000, 2,000 x 8,000 and Market-1501's 3,368 x 19,732. Rounds are interleaved (every
method once per round, in a rotating order) so that the machine's load falls on all of them
alike; the speed-up reported is the median over rounds of each round's ratio. Checks that the
distances and Rank-1/mAP agree, and writes the ``rerank`` section of docs/benchmarks.md.

Usage::

    python benchmarks/bench_rerank.py            # ~10 minutes idle, ~12 GB (the reference)
    python benchmarks/bench_rerank.py --rounds 1 # one round per size
    python benchmarks/bench_rerank.py --quick    # a few seconds, small problem, writes nothing
"""

from __future__ import annotations

import argparse
import os
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

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    emit(_measure(method, folder))


SIZES = [(1000, 4000), (2000, 8000), (FULL["num_query"], FULL["num_gallery"])]


def _sizes(num_query: int, num_gallery: int) -> dict[str, int]:
    """Market-like sizes: identities in proportion to the gallery, as in Market-1501."""
    ids = max(10, round(FULL["num_ids"] * num_gallery / FULL["num_gallery"]))
    return {**FULL, "num_query": num_query, "num_gallery": num_gallery, "num_ids": ids}


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _run_size(
    sizes: dict[str, int], rounds: int, quick: bool, threads: int
) -> tuple[list[list[str]], str]:
    """Every method ``rounds`` times, interleaved; table rows and the plain-ranking note."""
    data = market_like(**sizes, noise=NOISE, seed=0)
    methods = list(METHODS)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    diffs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.savez(folder / "data.npz", **data)  # type: ignore[arg-type]
        for r in range(rounds):
            for method in methods[r % len(methods) :] + methods[: r % len(methods)]:
                if quick:
                    result = {**_measure(method, folder), "peak_mb": float("nan")}
                else:
                    result = run_child(
                        [__file__, "--child", method, "--data", str(folder)], threads=threads
                    )
                runs[method].append(result)
            outputs = [np.load(folder / f"{i}.npy") for i in range(len(methods))]
            for method, out in zip(methods, outputs, strict=True):
                diff = float(np.abs(out - outputs[-1]).max())
                diffs[method] = max(diffs.get(method, 0.0), diff)
    worst = max(diffs.values())
    if worst >= 1e-5:  # reported in the table; the reference's argsort breaks ties unstably
        print(f"WARNING: re-ranked distances differ from the reference's by {worst}")
    ref = runs["reference: dense re-ranking"]
    rows = []
    for method in methods:
        mine = runs[method]
        wall = [rf["seconds"] / m["seconds"] for rf, m in zip(ref, mine, strict=True)]
        cpu = [rf["cpu"] / m["cpu"] for rf, m in zip(ref, mine, strict=True)]
        peak = _median([m["peak_mb"] for m in mine])
        rows.append(
            [
                f"{sizes['num_query']:,} x {sizes['num_gallery']:,}",
                method,
                f"{_median([m['seconds'] for m in mine]):.2f}",
                f"{_median(wall):.1f}x ({min(wall):.1f}-{max(wall):.1f})",
                f"{_median([m['cpu'] for m in mine]):.2f}",
                f"{_median(cpu):.1f}x",
                "n/a" if np.isnan(peak) else f"{peak:.0f}",
                f"{mine[0]['rank1']:.4f}",
                f"{mine[0]['mAP']:.4f}",
                f"{diffs[method]:.1e}",
            ]
        )
    plain = _metrics(squared_distances(data["q_feats"], data["g_feats"]), data)
    note = f"{sizes['num_query']:,} x {sizes['num_gallery']:,}: Rank-1 {plain['rank1']:.4f}, "
    note += f"mAP {plain['mAP']:.4f}"
    return rows, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, in-process, no doc")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size")
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads per method")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return
    import siamreid.evaluation  # noqa: F401  (in-process runs should not time the import)

    load = os.getloadavg()[0]
    sizes = [QUICK] if args.quick else [_sizes(q, g) for q, g in SIZES]
    rows: list[list[str]] = []
    notes: list[str] = []
    for size in sizes:
        rounds = 1 if args.quick else args.rounds
        size_rows, note = _run_size(size, rounds, args.quick, args.threads)
        rows += size_rows
        notes.append(note)
        print(markdown_table(HEADERS, size_rows), flush=True)
    rounds = 1 if args.quick else args.rounds
    blas = (
        f" OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}."
        if "OPENBLAS_CORETYPE" in os.environ
        else " OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set (numpy's OpenBLAS picks its kernel)."
    )
    body = (
        "## k-reciprocal re-ranking (`bench_rerank.py`)\n\n"
        f"Queries x gallery items, {FULL['dim']}-d features, identities in proportion to the "
        "gallery (751 at Market-1501's size), k1=20, k2=6, lambda=0.3; every method starts "
        "from the features (the dense ones compute the three squared Euclidean distance "
        f"matrices first). {rounds} interleaved rounds per size, each method in its own "
        f"process with {args.threads} thread(s){ONE_THREAD if args.threads == 1 else ''}; "
        "times are medians, speed-ups the median "
        "(and range) of each "
        "round's ratio to the reference. Max abs diff: largest difference of the re-ranked "
        "distances from the reference's over all rounds. Peak MB: above the child's "
        f"post-import baseline. The machine is shared (1-minute load {load:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at the end);{blas} "
        "CPU seconds count all threads.\n\n"
        f"{markdown_table(HEADERS, rows)}\n\nWithout re-ranking: {'; '.join(notes)} (these "
        "synthetic identity clusters are easy for re-ranking; what matters here is that all "
        "three agree)."
    )
    print(body)
    if not (args.quick or args.no_write):
        print(f"\nwrote {write_section('rerank', body)}")


ONE_THREAD = (
    " (on a shared, oversubscribed machine a second OpenMP thread per process spends more "
    "time waiting at barriers than it saves)"
)
HEADERS = ["size", "method", "wall s", "speed-up", "CPU s", "CPU ratio", "peak MB", "Rank-1"]
HEADERS += ["mAP", "max abs diff"]


if __name__ == "__main__":
    main()
