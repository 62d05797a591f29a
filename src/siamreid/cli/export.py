"""``siamreid export``: a saved model as an ONNX file, checked in onnxruntime."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from siamreid.cli._common import CHECKPOINT_HELP, check_output, positive_float
from siamreid.cli._options import add_renamed
from siamreid.errors import ExportError

if TYPE_CHECKING:
    from siamreid.export import InputNorm


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="export a saved model to ONNX",
        description="Export a saved model to ONNX: input 'images' (N x 3 x H x W float32, "
        "resized and normalised with the mean/std stored in the file's metadata), output "
        "'embeddings' (N x D). The file is run in onnxruntime on batches of 1 and 7 and "
        "compared with PyTorch before it replaces an existing FILE (a failed or killed export "
        "leaves the old file whole). With --boxmot the file runs unchanged in BoxMOT's re-id "
        "runtime and trackers (BotSort(reid_weights=...)). Needs: pip install 'siamreid[onnx]'.",
    )
    parser.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    add_renamed(  # dest stays "onnx": --out is the one output option of every command
        parser,
        "--out",
        "--onnx",
        dest="onnx",
        required=True,
        metavar="FILE",
        help="output .onnx file (formerly --onnx)",
    )
    _add_graph_options(parser)
    _add_check_options(parser)
    parser.set_defaults(run=run)


def _add_graph_options(parser: argparse.ArgumentParser) -> None:
    """What the ONNX graph is: opset, batch, exporter, input normalisation, BoxMOT packaging."""
    parser.add_argument(
        "--opset",
        type=int,
        default=18,
        help="ONNX opset (default: 18; the dynamo exporter writes 18 and newer, torchscript 7-20)",
    )
    parser.add_argument(
        "--static-batch",
        type=int,
        metavar="N",
        help="fix the batch size to N (default: any batch size)",
    )
    parser.add_argument(
        "--exporter",
        choices=("dynamo", "torchscript"),
        default="dynamo",
        help="torch.export-based exporter (default) or the legacy TorchScript tracer",
    )
    parser.add_argument(
        "--input-norm",
        choices=("model", "imagenet"),
        help="mean/std the graph expects: the backbone's own ('model', the default) or "
        "ImageNet's ('imagenet', the default with --boxmot; a backbone with other statistics "
        "gets a renormalising layer in front)",
    )
    parser.add_argument(
        "--boxmot",
        action="store_true",
        help="for BoxMOT: ImageNet input normalisation and BoxMOT's FILE.metadata.json "
        "sidecar (BoxMOT also runs a --static-batch file, in chunks of that size)",
    )


def _add_check_options(parser: argparse.ArgumentParser) -> None:
    """How the written file is compared with PyTorch before it replaces the old one."""
    parser.add_argument(
        "--atol",
        type=positive_float,
        default=1e-4,
        help="largest difference accepted (default: 1e-4)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")


def run(args: argparse.Namespace) -> int:
    """Load, export and verify (before the file replaces the old one), print."""
    from siamreid.export import write_boxmot_metadata
    from siamreid.export.onnx import export_onnx, file_opset
    from siamreid.models import load_pretrained

    if args.boxmot:
        if args.input_norm == "model":
            raise ExportError(
                "--boxmot needs --input-norm imagenet (BoxMOT normalises every crop with "
                "ImageNet mean/std); drop --input-norm or pass --input-norm imagenet."
            )
        if not args.onnx.lower().endswith(".onnx"):
            raise ExportError(
                f"--out {args.onnx!r} does not end in .onnx; BoxMOT picks its runtime by the "
                "file suffix. Name the file like reid.onnx."
            )
    input_norm: InputNorm = args.input_norm or ("imagenet" if args.boxmot else "model")
    check_output(args.onnx, what="--out")
    model = load_pretrained(args.checkpoint)
    dynamic = args.static_batch is None
    path, worst = export_onnx(
        model,
        args.onnx,
        opset=args.opset,
        dynamic_batch=dynamic,
        batch_size=1 if dynamic else args.static_batch,
        exporter=args.exporter,
        input_norm=input_norm,
        verify=not args.no_verify,
        atol=args.atol,
    )
    size_mb = path.stat().st_size / 2**20
    print(
        f"wrote {path} ({size_mb:.1f} MiB, opset {file_opset(path)}, {args.exporter} exporter, "
        f"{input_norm} input normalisation)"
    )
    if args.boxmot:
        print(f"wrote {write_boxmot_metadata(path, model)} (BoxMOT's sidecar)")
    if worst is not None:
        sizes = (1, 7) if dynamic else (args.static_batch,)
        print(f"onnxruntime matches PyTorch on batches {sizes}: max abs difference {worst:.1e}")
    return 0
