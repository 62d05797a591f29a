"""Inference throughput: ``SiameseEmbedder.embed`` vs the bare timm model vs ONNX Runtime.

One process times, on the same preprocessed batch, in interleaved rounds (so a change in the
machine's load hits every method alike) and reports the median images/s of:

* ``SiameseEmbedder.embed`` in fp32, and under bf16 autocast where the CPU has native bf16
  (AVX512-BF16 / AMX; elsewhere bf16 is emulated and slower, so it is skipped);
* the same with the model in channels-last memory format
  (``model.to(memory_format=torch.channels_last)``; inputs stay NCHW);
* the bare timm backbone (``timm.create_model(name, num_classes=0)``) in ``inference_mode``:
  the ceiling ``embed`` is held to (it must reach 0.95 of it);
* the model exported with ``siamreid.export.to_onnx``, run in onnxruntime.

It also times the image pipeline alone: JPEG decode + eval transform through a DataLoader
with one worker per core, to show whether decoding or the network bounds end-to-end speed.

Default: efficientnet_b0 at 256x128, batch 64, random weights; about 2-3 minutes on 2 cores
(the ONNX export alone takes ~30 s). ``--quick`` takes seconds (batch 8, TorchScript export,
few rounds) and writes nothing unless ``--write`` is given. Writes its section of
docs/benchmarks.md between ``<!-- bench:inference:start/end -->``.

    python benchmarks/bench_inference.py [--quick] [--model NAME] [--no-write]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
from _report import markdown_table, write_section
from torch.utils.data import DataLoader

from siamreid.data import ReidImageDataset, make_synthetic_market
from siamreid.data.images import image_paths
from siamreid.data.samples import ReidSample
from siamreid.export import to_onnx
from siamreid.models import SiameseEmbedder


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (else autocast emulates it, slowly)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def onnx_runner(model: SiameseEmbedder, folder: Path, exporter: str) -> Callable[[Any], Any]:
    import onnxruntime

    path = to_onnx(model, folder / "model.onnx", exporter=exporter)  # type: ignore[arg-type]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cores()
    # idle onnxruntime threads spin by default, stealing the cores from the next method timed
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda batch: session.run(["embeddings"], {"images": batch})[0]


def methods(
    model: SiameseEmbedder, batch: torch.Tensor, folder: Path, exporter: str
) -> dict[str, Callable[[], object]]:
    """Name -> one call on ``batch``."""
    bare = timm.create_model(model.backbone_name, pretrained=False, num_classes=0).eval()
    array = batch.numpy()
    run_onnx = onnx_runner(model, folder, exporter)

    def bare_forward() -> object:
        with torch.inference_mode():
            return bare(batch)

    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    found: dict[str, Callable[[], object]] = {
        "bare timm backbone, fp32": bare_forward,
        "SiameseEmbedder.embed, fp32": lambda: model.embed(batch, batch_size=len(batch)),
        "SiameseEmbedder.embed, fp32, channels_last model": lambda: channels_last.embed(
            batch, batch_size=len(batch)
        ),
        f"onnxruntime ({exporter} export), fp32": lambda: run_onnx(array),
    }
    if native_bf16():

        def embed_bf16() -> object:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model.embed(batch, batch_size=len(batch))

        found["SiameseEmbedder.embed, bf16 autocast"] = embed_bf16
    return found


def interleaved(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each method, one call of each per round (after one warm-up each);
    the order rotates every round so no method always follows the same one."""
    for call in calls.values():
        call()
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return times


def pipeline_rate(model: SiameseEmbedder, folder: Path, images: int, batch: int) -> float:
    """Images/s of decode + eval transform through a DataLoader (steady state, second pass)."""
    make_synthetic_market(folder, num_train_ids=max(2, images // 10), num_test_ids=2, seed=0)
    paths = image_paths(folder / "Market-1501-v15.09.15" / "bounding_box_train")[:images]
    samples = [ReidSample(p, pid=0, camid=None) for p in paths]
    loader = DataLoader(
        ReidImageDataset(samples, model.eval_transform),
        batch_size=batch,
        num_workers=cores(),
        persistent_workers=True,
    )
    for _ in loader:  # starts the workers, warms the page cache
        pass
    start = time.perf_counter()
    for _ in loader:
        pass
    return len(samples) / (time.perf_counter() - start)


def report(
    times: dict[str, list[float]], batch: int, pipeline: float, args: argparse.Namespace
) -> str:
    bare = statistics.median(times["bare timm backbone, fp32"])
    rows = []
    for name, seconds in times.items():
        med = statistics.median(seconds)
        rows.append([name, f"{batch / med:,.1f}", f"{med * 1000:.1f}", f"{bare / med:.3f}"])
    rows.append([f"image pipeline alone ({cores()} workers)", f"{pipeline:,.1f}", "-", "-"])
    bf16 = "" if native_bf16() else " bf16 is not timed: this CPU has no native bf16."
    return (
        f"## Inference (`bench_inference.py`)\n\n"
        f"{args.model} at {args.height}x{args.width} (random weights), batches of {batch} "
        f"preprocessed images, {torch.get_num_threads()} torch/onnxruntime threads; median of "
        f"{args.rounds} interleaved rounds. *vs bare*: speed relative to the bare timm "
        f"backbone (embed must reach 0.95).{bf16} The image pipeline row decodes the "
        f"synthetic 128x64 JPEG crops and applies the eval transform in a DataLoader.\n\n"
        + markdown_table(["method", "images/s", "ms/batch", "vs bare"], rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="efficientnet_b0", help="timm backbone name")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64, help="images per call")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--pipeline-images", type=int, default=1000)
    parser.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    parser.add_argument("--quick", action="store_true", help="seconds: small batch, few rounds")
    parser.add_argument("--write", action="store_true", help="write docs even with --quick")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.rounds, args.pipeline_images, args.exporter = 8, 3, 200, "torchscript"
    torch.set_num_threads(cores())
    torch.manual_seed(0)
    model = SiameseEmbedder(
        args.model, pretrained=False, input_size=(args.height, args.width)
    ).eval()
    batch = torch.randn(args.batch, 3, args.height, args.width)
    with tempfile.TemporaryDirectory() as tmp:
        calls = methods(model, batch, Path(tmp), args.exporter)
        times = interleaved(calls, args.rounds)
        pipeline = pipeline_rate(model, Path(tmp) / "data", args.pipeline_images, args.batch)
    body = report(times, args.batch, pipeline, args)
    print(body)
    ratio = statistics.median(times["bare timm backbone, fp32"]) / statistics.median(
        times["SiameseEmbedder.embed, fp32"]
    )
    print(f"\nembed / bare timm speed: {ratio:.3f} ({'ok' if ratio >= 0.95 else 'BELOW 0.95'})")
    if not args.no_write and (args.write or not args.quick):
        print(f"wrote {write_section('inference', body)}")


if __name__ == "__main__":
    main()
