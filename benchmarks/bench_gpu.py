"""The GPU path measured: Trainer vs a bare loop, one epoch of the Market-1501 recipe, evaluation.

One script, one call on one GPU (about 5-7 minutes on an H200; ``--budget-s`` skips what would
not fit), in three parts, one module each (``_gpu.py`` holds what they share):

1. ``gpu_trainer_ratio``: ``Trainer`` images/s against the bare timm + pytorch-metric-learning
   loop of ``bench_trainer.py`` (imported: one owner), same model, batch, data and DataLoader
   workers: EfficientNet-B0 at 256x128, bf16 autocast + channels_last, eager and
   ``torch.compile``, at P=16 K=4 and P=64 K=4. Steady state: the first steps (worker start-up,
   compilation, cuDNN autotuning) are left out of the clock.
2. ``gpu_recipe_epoch``: two epochs of ``configs/market1501_efficientnet_b0.yaml`` (pretrained
   weights off) on a synthetic set of Market-1501's size: 751 identities, 13,234 training images
   (4-6 cameras x 2-5 images per identity: 17.6 per identity, Market-1501 has 12,936, 17.2).
   Epoch seconds, images/s, peak GPU memory, and the share of the epoch spent waiting for the
   DataLoader (time inside its iterator after a ``torch.cuda.synchronize``), and one validation
   pass; the projection of the 120-epoch recipe with its 12 validations (goal: under 5 minutes
   on one H100/H200-class GPU) and what bounds it.
3. ``gpu_eval``: Market-size evaluation (3,368 x 19,732, 512-d: ``evaluate_features`` and
   ``evaluate_rank``) and k-reciprocal re-ranking (``re_rank_features``) on CUDA tensors.

On the device machine (no package registry there; torch, torchvision, timm, safetensors, numpy,
pillow, pyyaml and tqdm are installed, pytorch-metric-learning is not). Once, here, in the repo
root (``.whl/`` is git-ignored)::

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux2014_x86_64 -d .whl pytorch-metric-learning==2.9.0

then one ``run`` with ``carry=[".whl"]`` and ``timeout_s=600``::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src || exit; \\
    PYTHONUNBUFFERED=1 python3 benchmarks/bench_gpu.py --json $OUT/bench_gpu.json

The results file is rewritten after each measurement, and a measurement that fails is
recorded and the next one runs, so a call cut at its time limit still returns what it measured;
``--skip-compile`` leaves out the ``torch.compile`` rows for a rerun. Back here, record the
returned file in ``docs/benchmarks.md`` (the device's copy of the page does not come back)::

    python benchmarks/bench_gpu.py --record /path/to/bench_gpu.json

``python benchmarks/bench_gpu.py --cpu-smoke`` runs every part at tiny sizes on the CPU in
about a minute and writes the section into a temporary copy of the page (the test suite runs
it, so the script is known to work end to end before a GPU is lent).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gpu_eval
import gpu_recipe_epoch
import gpu_trainer_ratio
import torch
from _gpu import GPU, SMOKE, Sizes, free, machine, make_data
from _report import DOC_PATH, write_section

from siamreid.data.samples import ReidSplits

Plan = list[tuple[str, Callable[[], Any]]]


def _plan(sizes: Sizes, splits: ReidSplits, compile_runs: bool) -> Plan:
    """The measurements in order, the most telling first: what does not fit the budget is last."""
    trainer_ratio = functools.partial(gpu_trainer_ratio.measure, sizes, splits)
    p0, k0 = sizes.batches[0]
    plan: Plan = [
        ("throughput", functools.partial(trainer_ratio, p0, k0, False)),
        ("epoch", functools.partial(gpu_recipe_epoch.measure, sizes, splits)),
        ("eval", functools.partial(gpu_eval.measure, sizes)),
    ]
    if compile_runs:
        plan.append(("throughput", functools.partial(trainer_ratio, p0, k0, True)))
    for p, k in sizes.batches[1:]:
        for compiled in (False, True)[: 2 if compile_runs else 1]:
            plan.append(("throughput", functools.partial(trainer_ratio, p, k, compiled)))
    return plan


def run(
    sizes: Sizes,
    budget_s: float,
    save: Callable[[dict[str, Any]], None] | None = None,
    compile_runs: bool = True,
) -> dict[str, Any]:
    """Every measurement in one process; those that would start after ``budget_s`` are skipped.

    A measurement that fails is recorded (``errors``) and the next one runs: a GPU is lent for
    one call. ``save(results)`` is called after each measurement, so a run killed at its time
    limit still leaves what it measured. ``compile_runs=False`` leaves out the
    ``torch.compile`` rows (for a rerun when compilation alone would take the call).
    """
    device = torch.device(sizes.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA GPU; use --cpu-smoke for a CPU check.")
    if sizes.compile_backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=sizes.compile_backend)  # type: ignore[assignment]
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(device),
        "backbone": sizes.backbone,
        "input_size": list(sizes.input_size),
        "precision": sizes.precision,
        "throughput": [],
        "skipped": [],
        "errors": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        splits, results["generate_s"] = make_data(sizes, Path(tmp))
        print(f"synthetic set: {len(splits.train)} images in {results['generate_s']:.1f} s")
        plan = _plan(sizes, splits, compile_runs)
        for index, (name, measure) in enumerate(plan):
            elapsed = time.perf_counter() - start
            if elapsed > budget_s:
                results["skipped"].append(index)
                print(f"skipped measurement {index} ({name}): {elapsed:.0f} s > --budget-s")
                continue
            try:
                result = measure()
            except Exception as error:  # recorded, and the remaining measurements still run
                traceback.print_exc()
                results["errors"].append(f"{index} ({name}): {type(error).__name__}: {error}")
                free(device)
                result = None
            else:
                print(f"[{time.perf_counter() - start:.0f} s] {name}: {json.dumps(result)}")
                if name == "throughput":
                    results["throughput"].append(result)
                else:
                    results[name] = result
            results["total_s"] = time.perf_counter() - start
            if save is not None:
                save(results)
    results["total_s"] = time.perf_counter() - start
    return results


def render(results: dict[str, Any]) -> str:
    """The ``gpu`` section of docs/benchmarks.md from :func:`run`'s results."""
    lines = ["### The GPU path: Trainer, the Market-1501 recipe, evaluation", ""]
    lines += gpu_trainer_ratio.render(results)
    lines += gpu_recipe_epoch.render(results)
    lines += gpu_eval.render(results)
    if results["skipped"]:
        lines.append(f"Skipped for time: measurements {results['skipped']} of the plan.")
    for error in results.get("errors", []):
        lines.append(f"Failed: measurement {error[:300]}")
    return "\n".join(lines)


def record(results: dict[str, Any], doc: Path) -> Path:
    """Write the ``gpu`` section, stamped with the machine the results came from."""
    return write_section("gpu", render(results), doc=doc, machine=results["machine"])


def _save(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=1))


def main() -> None:
    """Run the benchmark (or record a finished run) and write its section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--doc", type=Path, help="page to write (default docs/benchmarks.md)")
    parser.add_argument("--record", type=Path, help="write the section from a --json file")
    parser.add_argument("--skip-compile", action="store_true", help="no torch.compile rows")
    parser.add_argument("--budget-s", type=float, default=330.0, help="start nothing after this")
    args = parser.parse_args()
    if args.record is not None:
        print(f"wrote {record(json.loads(args.record.read_text()), args.doc or DOC_PATH)}")
        return
    sizes = SMOKE if args.cpu_smoke else GPU
    doc = args.doc
    if doc is None and args.cpu_smoke:  # never touch the real page with smoke numbers
        doc = Path(tempfile.mkdtemp(prefix="bench_gpu_")) / "benchmarks.md"
        if DOC_PATH.exists():
            shutil.copy(DOC_PATH, doc)
    save = None
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        save = functools.partial(_save, args.json)
    results = run(sizes, args.budget_s, save, compile_runs=not args.skip_compile)
    print(render(results))
    if args.json is not None:
        print(f"wrote {args.json}")
    print(f"wrote {record(results, doc or DOC_PATH)}")


if __name__ == "__main__":
    main()
