"""Market-1501-sized ranking evaluation: siamreid against torchreid's per-query loop.

Times ``evaluate_rank`` (from the distance matrix), ``evaluate_features`` (from features,
distances included) and two references written here, torchreid's ``eval_market1501`` as
torchreid writes it (sort every row, loop over queries in Python) and the same loop with its
per-query work vectorised, on the same synthetic inputs, each in its own process for a clean
peak-memory figure; checks that the metrics agree and writes the ``eval`` section of
docs/benchmarks.md.

Usage::

    python benchmarks/bench_eval.py           # ~3 minutes on 2 cores (torchreid's loop: ~75 s x 2)
    python benchmarks/bench_eval.py --quick   # a few seconds, small problem, writes nothing
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

FULL = {"num_query": 3368, "num_gallery": 19732, "num_ids": 751, "num_cams": 6, "dim": 512}
QUICK = {"num_query": 150, "num_gallery": 1200, "num_ids": 50, "num_cams": 6, "dim": 64}
NOISE = 1.8  # per-image noise around identity centroids: mAP ~0.76 on the full problem
CYTHON_SECONDS = 4.5  # fast-reid's compiled evaluate_cy on this problem, as the issue reports

Arrays = dict[str, npt.NDArray[Any]]


def market_like(
    num_query: int, num_gallery: int, num_ids: int, num_cams: int, dim: int, noise: float, seed: int
) -> Arrays:
    """Features with identity structure: centroid per identity + camera offset + noise."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((num_ids, dim), dtype=np.float32)
    cam_shift = 0.5 * rng.standard_normal((num_cams, dim), dtype=np.float32)
    out: Arrays = {}
    for split, n in (("q", num_query), ("g", num_gallery)):
        pids = rng.permutation(np.arange(n) % num_ids)
        cams = rng.integers(0, num_cams, n)
        noise_part = noise * rng.standard_normal((n, dim), dtype=np.float32)
        out[f"{split}_feats"] = centroids[pids] + cam_shift[cams] + noise_part
        out[f"{split}_pids"], out[f"{split}_cams"] = pids, cams
    return out


def squared_distances(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> Any:
    """Squared Euclidean distances as torchreid computes them (||a||^2 + ||b||^2 - 2ab)."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return d.astype(np.float32)


def reference_eval(
    distmat: npt.NDArray[np.float32], data: Arrays, max_rank: int = 50, *, as_torchreid: bool
) -> tuple[float, float, float]:
    """torchreid's eval_market1501 (+ fast-reid's mINP): argsort every row, loop over queries.

    ``as_torchreid`` builds each query's precision curve with a Python list comprehension, as
    torchreid does; otherwise the per-query work is vectorised (no sort avoided, no loop).
    """
    q_pids, g_pids, q_cams, g_cams = (data[k] for k in ("q_pids", "g_pids", "q_cams", "g_cams"))
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, None]).astype(np.int32)
    all_cmc, all_ap, all_inp = [], [], []
    for q in range(distmat.shape[0]):
        order = indices[q]
        keep = ~((g_pids[order] == q_pids[q]) & (g_cams[order] == q_cams[q]))
        raw = matches[q][keep]
        if not raw.any():
            continue
        cmc = raw.cumsum()
        last = np.flatnonzero(raw)[-1]
        all_inp.append(cmc[last] / (last + 1.0))
        all_cmc.append(np.minimum(cmc, 1)[:max_rank])
        if as_torchreid:
            precision = np.asarray([x / (i + 1.0) for i, x in enumerate(cmc)])
        else:
            precision = cmc / np.arange(1.0, len(raw) + 1)
        all_ap.append((precision * raw).sum() / raw.sum())
    return float(np.mean(all_cmc, axis=0)[0]), float(np.mean(all_ap)), float(np.mean(all_inp))


def _load(folder: Path) -> tuple[Arrays, npt.NDArray[np.float32]]:
    return dict(np.load(folder / "labels.npz")), np.load(folder / "distmat.npy")


def _siamreid_rank(folder: Path) -> tuple[float, float, float]:
    from siamreid.evaluation import evaluate_rank

    data, distmat = _load(folder)
    m = evaluate_rank(distmat, data["q_pids"], data["g_pids"], data["q_cams"], data["g_cams"])
    return m.rank1, m.mAP, m.mINP


def _siamreid_features(folder: Path) -> tuple[float, float, float]:
    from siamreid.evaluation import evaluate_features

    data = {**np.load(folder / "labels.npz"), **np.load(folder / "feats.npz")}
    m = evaluate_features(
        data["q_feats"],
        data["g_feats"],
        data["q_pids"],
        data["g_pids"],
        data["q_cams"],
        data["g_cams"],
    )
    return m.rank1, m.mAP, m.mINP


def _torchreid(folder: Path) -> tuple[float, float, float]:
    data, distmat = _load(folder)
    return reference_eval(distmat, data, as_torchreid=True)


def _vectorised(folder: Path) -> tuple[float, float, float]:
    data, distmat = _load(folder)
    return reference_eval(distmat, data, as_torchreid=False)


REFERENCE = "reference: torchreid eval_market1501 (Python)"
METHODS: dict[str, Callable[[Path], tuple[float, float, float]]] = {
    "siamreid evaluate_rank": _siamreid_rank,
    "siamreid evaluate_features (distances included)": _siamreid_features,
    REFERENCE: _torchreid,
    "reference, per-query work vectorised": _vectorised,
}


def child(method: str, folder: Path) -> None:
    """Run one method on the saved inputs; emit its time, peak memory and metrics."""
    import torch

    import siamreid.evaluation  # noqa: F401  (imports count towards the baseline, not the run)

    torch.set_num_threads(2)
    baseline = reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    rank1, m_ap, m_inp = METHODS[method](folder)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    emit(
        {
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": peak_rss_mb() - baseline,
            "rank1": rank1,
            "mAP": m_ap,
            "mINP": m_inp,
        }
    )


def _scenarios(sizes: dict[str, int], folder: Path) -> dict[str, Path]:
    """Save the inputs of each scenario under ``folder``; return their folders."""
    data = market_like(**sizes, noise=NOISE, seed=0)
    rng = np.random.default_rng(1)
    distmats = {
        "identity-structured features": squared_distances(data["q_feats"], data["g_feats"]),
        # distinct values in each row: no ties, so the reference's unstable sort cannot differ
        "random distances (worst case)": rng.permuted(
            np.tile(np.arange(sizes["num_gallery"], dtype=np.float32), (sizes["num_query"], 1)),
            axis=1,
        ),
    }
    out = {}
    for i, (name, distmat) in enumerate(distmats.items()):
        sub = folder / f"s{i}"
        sub.mkdir()
        np.save(sub / "distmat.npy", distmat)
        labels = {k: v for k, v in data.items() if "feats" not in k}
        np.savez(sub / "labels.npz", **labels)  # type: ignore[arg-type]
        np.savez(sub / "feats.npz", q_feats=data["q_feats"], g_feats=data["g_feats"])
        out[name] = sub
    return out


def _mb(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.0f}"


def _run(name: str, method: str, folder: Path, isolate: bool) -> dict[str, Any]:
    if name.startswith("random") and "features" in method:
        return {}
    if isolate:
        return run_child([__file__, "--child", method, "--data", str(folder)])
    start, cpu = time.perf_counter(), time.process_time()
    rank1, m_ap, m_inp = METHODS[method](folder)
    return {
        "seconds": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "peak_mb": float("nan"),
        "rank1": rank1,
        "mAP": m_ap,
        "mINP": m_inp,
    }


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
    sizes = QUICK if args.quick else FULL
    import siamreid.evaluation  # noqa: F401  (in-process runs should not time the import)

    headers = ["method", "wall s", "speed-up", "CPU s", "CPU ratio", "peak MB", "Rank-1", "mAP"]
    headers.append("mINP")
    body = [
        "## Ranking evaluation (`bench_eval.py`)",
        "",
        f"{sizes['num_query']} queries x {sizes['num_gallery']} gallery items, "
        f"{sizes['num_ids']} identities, {sizes['num_cams']} cameras, float32 distances "
        "(266 MB). Peak MB: above the child's post-import baseline, distance matrix included. "
        "The machine is shared (load at start below), so wall times vary from run to run; CPU "
        "seconds (all threads) are steadier.",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, folder in _scenarios(sizes, Path(tmp)).items():
            results = {m: _run(scenario, m, folder, not args.quick) for m in METHODS}
            ref = results[REFERENCE]
            rows = [
                [
                    m,
                    f"{r['seconds']:.2f}",
                    f"{ref['seconds'] / r['seconds']:.1f}x",
                    f"{r['cpu']:.2f}",
                    f"{ref['cpu'] / r['cpu']:.1f}x",
                    _mb(r["peak_mb"]),
                    f"{r['rank1']:.4f}",
                    f"{r['mAP']:.4f}",
                    f"{r['mINP']:.4f}",
                ]
                for m, r in results.items()
                if r
            ]
            ours = results["siamreid evaluate_rank"]
            # float32 distances tie now and then; the reference's unstable argsort may order a
            # tied true match differently from our stable rule, moving metrics by ~1e-6
            diff = max(abs(ours[k] - ref[k]) for k in ("rank1", "mAP", "mINP"))
            assert diff < 1e-4, f"{scenario}: metrics disagree by {diff}"
            table = markdown_table(headers, rows)
            print(f"\n{scenario}\n{table}")
            body += [
                "",
                f"**{scenario}**",
                "",
                table,
                "",
                f"Largest metric difference "
                f"between `evaluate_rank` and torchreid's loop: {diff:.1e} (nonzero only where "
                "float32 distances tie: torchreid's unstable sort orders ties arbitrarily).",
            ]
            if not scenario.startswith("random"):
                cy = CYTHON_SECONDS / ours["seconds"]
                body += [
                    "",
                    f"fast-reid's compiled `evaluate_cy` takes about {CYTHON_SECONDS} s "
                    f"on this problem (figure from the issue; not run here: Cython is not "
                    f"installed), so `evaluate_rank` is about {cy:.0f}x faster than it.",
                ]
    if not (args.quick or args.no_write):
        print(f"\nwrote {write_section('eval', chr(10).join(body))}")


if __name__ == "__main__":
    main()
