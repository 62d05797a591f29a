"""The export arguments, checked before any work: exporter, batch size, opset, atol, output."""

from __future__ import annotations

import math
import os
from pathlib import Path

from siamreid._io import check_output
from siamreid.errors import ExportError, InputError

__all__ = ["INSTALL_HINT", "check_atol", "checked_arguments"]

INSTALL_HINT = "Install the ONNX extra: pip install 'siamreid[onnx]'."
# The opsets each exporter writes (lowest, highest; None: the newest the installed onnx knows),
# as torch 2.14 does: the torch.export-based exporter builds opset 18 and converts upwards
# only (asked for 11, it writes 18); the TorchScript tracer supports 7..20.
_OPSETS: dict[str, tuple[int, int | None]] = {"dynamo": (18, None), "torchscript": (7, 20)}


def checked_arguments(
    path: str | os.PathLike[str],
    opset: int,
    exporter: str,
    batch_size: int,
    input_norm: str,
    atol: float,
) -> Path:
    """The ONNX file to write, its folder created, once the export arguments are checked."""
    if exporter not in ("dynamo", "torchscript"):
        raise ExportError(f"exporter is {exporter!r}; expected 'dynamo' or 'torchscript'.")
    if batch_size < 1:
        raise ExportError(f"batch_size must be >= 1, got {batch_size}.")
    if input_norm not in ("model", "imagenet"):
        raise ExportError(f"input_norm is {input_norm!r}; expected 'model' or 'imagenet'.")
    _check_opset(opset, exporter)
    check_atol(atol)
    out = check_output(path, what="ONNX path", error=ExportError)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _check_opset(opset: int, exporter: str) -> None:
    """Refuse an opset the exporter would not write (torch's dynamo exporter, asked for less
    than 18, writes 18 and says so only in a log line)."""
    low, high = _OPSETS[exporter]
    if high is None:
        high = _newest_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        other = "torchscript" if exporter == "dynamo" else "dynamo"
        low_o, high_o = _OPSETS[other]
        span = f"{low_o}..{high_o}" if high_o is not None else f"{low_o} and newer"
        raise InputError(
            f"opset is {opset!r}; the {exporter} exporter writes opsets {low}..{high}. Pass "
            f"an opset in that range, or exporter={other!r} (opsets {span})."
        )


def _newest_opset() -> int:
    """The newest opset the installed onnx knows (the dynamo exporter's upper end)."""
    try:
        import onnx
    except ImportError as err:
        raise ExportError(f"Cannot export to ONNX: {err}. {INSTALL_HINT}") from err
    return int(onnx.defs.onnx_opset_version())


def check_atol(atol: float) -> None:
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not 0 < atol < math.inf:
        raise InputError(f"atol must be a positive finite number, got {atol!r}.")
