"""A siamreid model as a BoxMOT re-id model: ImageNet input normalisation and BoxMOT's sidecar.

BoxMOT feeds every ONNX re-id model the same input (RGB crops resized to the graph's size,
ImageNet mean/std, batches of any size) and reads ``<file>.onnx.metadata.json`` next to it.
"""

from __future__ import annotations

import os
from pathlib import Path

from siamreid._io import atomic_write_json
from siamreid._version import __version__
from siamreid.errors import ExportError
from siamreid.export.onnx import INPUT_NAME, OUTPUT_NAME, Exporter, onnx_session, to_onnx
from siamreid.models.embedder import SiameseEmbedder

__all__ = ["to_boxmot", "write_boxmot_metadata"]


def to_boxmot(
    model: SiameseEmbedder,
    path: str | os.PathLike[str],
    *,
    opset: int = 18,
    exporter: Exporter = "dynamo",
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Write an ONNX file that BoxMOT's re-id runtime and trackers load unchanged.

    BoxMOT feeds every ONNX re-id model the same input: BGR crops turned RGB, resized to the
    graph's static ``H x W``, scaled to [0, 1] and normalised with ImageNet mean/std, in
    batches of any size. So the file is :func:`to_onnx` with ``input_norm="imagenet"`` and a
    dynamic batch, plus BoxMOT's sidecar ``<file>.onnx.metadata.json``
    (:func:`write_boxmot_metadata`).

    Args:
        model: The embedder.
        path: Output ``.onnx`` file (BoxMOT picks its ONNX runtime by this suffix).
        opset: ONNX opset version.
        exporter: ``"dynamo"`` or ``"torchscript"`` (see :func:`to_onnx`).
        verify: Check the file in onnxruntime against PyTorch.
        atol: Largest absolute difference accepted by the verification.

    Returns:
        The path of the ONNX file.

    Raises:
        ExportError: The path does not end in ``.onnx``, or :func:`to_onnx` failed.

    Example:
        >>> to_boxmot(model, "reid.onnx")  # doctest: +SKIP
        >>> tracker = BotSort(reid_weights=Path("reid.onnx"), device="cpu")  # doctest: +SKIP
    """
    _check_onnx_suffix(path)
    out = to_onnx(
        model, path, opset=opset, exporter=exporter, input_norm="imagenet", verify=verify, atol=atol
    )
    write_boxmot_metadata(out, model)
    return out


def write_boxmot_metadata(path: str | os.PathLike[str], model: SiameseEmbedder) -> Path:
    """Write BoxMOT's sidecar ``<file>.onnx.metadata.json`` next to an exported file.

    BoxMOT's loader reads ``model_name``, ``preprocess`` (``"resize"``: a plain resize to the
    graph's size), ``model_kwargs`` (``img_size``, the crop size) with its schema version, and
    ``num_classes``; the other fields describe the file as BoxMOT's own exporter does. The
    file at ``path`` must take ImageNet-normalised input (``input_norm="imagenet"``).

    Args:
        path: The ``.onnx`` file (read for its batch dimension: BoxMOT runs a fixed-batch file
            in chunks of that size).
        model: The embedder it was exported from.

    Returns:
        The sidecar's path.

    Raises:
        ExportError: No ONNX file at ``path``, or onnxruntime cannot load it.

    Example:
        >>> write_boxmot_metadata("reid.onnx", model)  # doctest: +SKIP
        PosixPath('reid.onnx.metadata.json')
    """
    onnx_path = Path(path)
    height, width = model.config.input_size
    batch = _graph_batch(onnx_path)
    sidecar = onnx_path.with_name(onnx_path.name + ".metadata.json")
    fields = {
        "schema_version": 1,
        "format": "onnx",
        "model_name": f"siamreid_{model.backbone_name}",
        "preprocess": "resize",
        "img_size": [height, width],
        "model_kwargs_schema_version": 1,
        "model_kwargs": {"img_size": [height, width]},
        "num_classes": model.config.num_classes,
        "input_name": INPUT_NAME,
        "output_names": [OUTPUT_NAME],
        "input_shape": [batch, 3, height, width],
        "dynamic_batch": isinstance(batch, str),
        "precision": "float32",
        "embedding_dim": model.embedding_dim,
        "source": f"siamreid {__version__}",
    }
    return atomic_write_json(sidecar, fields)


def _check_onnx_suffix(path: str | os.PathLike[str]) -> None:
    if Path(path).suffix.lower() != ".onnx":
        raise ExportError(
            f"BoxMOT picks its runtime by the file suffix; {str(path)!r} does not end in "
            "'.onnx'. Name the file like reid.onnx."
        )


def _graph_batch(path: Path) -> int | str:
    """The batch dimension of the file's input: a fixed size, or the name of a free one."""
    session = onnx_session(path)
    first = session.get_inputs()[0].shape[0]
    return first if isinstance(first, int) else str(first)
