"""Export a :class:`~siamreid.SiameseEmbedder` to ONNX and check it in onnxruntime.

The graph takes ``images``, a float32 ``[N, 3, H, W]`` batch (static ``H x W``) already resized
and normalised, and returns ``embeddings`` ``[N, D]``. Which normalisation the graph expects is
the ``input_norm`` choice (:mod:`siamreid.export._normalisation`). The file's metadata records
what a runtime needs to prepare inputs: ``input_size``, ``mean``, ``std`` (those the graph
expects), ``input_norm``, ``model_mean``, ``model_std``, ``interpolation``, ``metric``,
``backbone``, ``embedding_dim``, ``siamreid_version``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from siamreid.errors import ExportError
from siamreid.export._normalisation import (
    InputNorm,
    input_stats,
    renormalisation,
    with_input_norm,
)
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.serialization import config_record

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "Exporter", "onnx_session", "to_onnx", "verify_onnx"]

Exporter = Literal["dynamo", "torchscript"]
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"
_INSTALL_HINT = "Install the ONNX extra: pip install 'siamreid[onnx]'."


def to_onnx(
    model: SiameseEmbedder,
    path: str | os.PathLike[str],
    *,
    opset: int = 18,
    dynamic_batch: bool = True,
    batch_size: int = 1,
    exporter: Exporter = "dynamo",
    input_norm: InputNorm = "model",
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Write ``model`` as one ONNX file: image batches of its ``input_size`` to embeddings.

    Args:
        model: The embedder (exported from a CPU copy, in eval mode; ``model`` is unchanged).
        path: Output ``.onnx`` file; its folder is created.
        opset: ONNX opset version.
        dynamic_batch: Accept any batch size; else the graph is fixed to ``batch_size``.
        batch_size: Batch size of a fixed-batch graph (ignored with ``dynamic_batch``).
        exporter: ``"dynamo"`` (``torch.export``; needs onnxscript) or ``"torchscript"``
            (the legacy tracer, deprecated by PyTorch but faster to run).
        input_norm: The normalisation the graph expects: ``"model"``, the backbone's own
            (``model.eval_transform``), or ``"imagenet"``, as BoxMOT feeds every model; a
            backbone with other statistics (ViT, CLIP: 0.5) then gets a renormalising layer
            in front, so the embeddings do not change.
        verify: Run the file in onnxruntime and compare with PyTorch (see :func:`verify_onnx`).
        atol: Largest absolute difference accepted by the verification.

    Returns:
        The path of the ONNX file.

    Raises:
        ExportError: The exporter failed or is missing, or verification exceeded ``atol``.

    Example:
        >>> to_onnx(model, "reid.onnx")  # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("reid.onnx")  # doctest: +SKIP
    """
    out = _checked_output(path, exporter, batch_size, input_norm)
    net = _cpu_eval_copy(model)
    height, width = model.config.input_size
    example = torch.randn(2 if dynamic_batch else batch_size, 3, height, width)
    graph = with_input_norm(net, input_norm)
    _export_or_explain(graph, example, out, opset, dynamic_batch, exporter, model.backbone_name)
    _write_metadata(out, model, input_norm)
    if verify:
        sizes = (1, 7) if dynamic_batch else (batch_size,)
        verify_onnx(out, net, batch_sizes=sizes, atol=atol)
    return out


def verify_onnx(
    path: str | os.PathLike[str],
    model: SiameseEmbedder,
    *,
    batch_sizes: Sequence[int] = (1, 7),
    atol: float = 1e-4,
    seed: int = 0,
) -> float:
    """Largest absolute difference between onnxruntime and PyTorch embeddings of random batches.

    The same images go to both: PyTorch gets them normalised with the backbone's statistics,
    onnxruntime with the statistics the file's metadata says its graph expects (they differ
    for a backbone exported with ``input_norm="imagenet"``).

    Args:
        path: ONNX file written by :func:`to_onnx`.
        model: The PyTorch model it was exported from.
        batch_sizes: Batch sizes to run.
        atol: Largest difference accepted.
        seed: Seed of the random inputs.

    Raises:
        ExportError: A difference above ``atol``, or a file onnxruntime cannot run.

    Example:
        >>> verify_onnx("reid.onnx", model)  # doctest: +SKIP
        2.4e-07
    """
    session = onnx_session(Path(path))
    net = _cpu_eval_copy(model)
    to_graph = renormalisation(session, model)
    height, width = model.config.input_size
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for n in batch_sizes:
        images = torch.randn(n, 3, height, width, generator=generator)
        worst = max(worst, _difference(session, net, to_graph, images, str(path)))
    if not worst <= atol:
        raise ExportError(
            f"{str(path)!r} disagrees with PyTorch: max abs difference {worst:.3g} > atol "
            f"{atol:g}. Try the other exporter or another opset."
        )
    return worst


def _checked_output(
    path: str | os.PathLike[str], exporter: str, batch_size: int, input_norm: str
) -> Path:
    """The ONNX file to write, its folder created, once the export arguments are checked."""
    if exporter not in ("dynamo", "torchscript"):
        raise ExportError(f"exporter is {exporter!r}; expected 'dynamo' or 'torchscript'.")
    if batch_size < 1:
        raise ExportError(f"batch_size must be >= 1, got {batch_size}.")
    if input_norm not in ("model", "imagenet"):
        raise ExportError(f"input_norm is {input_norm!r}; expected 'model' or 'imagenet'.")
    out = Path(path)
    if out.is_dir():
        raise ExportError(f"ONNX path {str(out)!r} is a folder; pass a file name like model.onnx.")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _export_or_explain(
    graph: nn.Module,
    example: torch.Tensor,
    out: Path,
    opset: int,
    dynamic_batch: bool,
    exporter: Exporter,
    backbone_name: str,
) -> None:
    """:func:`_export`, its failures turned into an ExportError that says what to try."""
    try:
        _export(graph, example, out, opset, dynamic_batch, exporter)
    except ImportError as err:
        raise ExportError(f"Cannot export to ONNX: {err}. {_INSTALL_HINT}") from err
    except Exception as err:  # exporters fail with many types; all mean "not exportable"
        other = "torchscript" if exporter == "dynamo" else "dynamo"
        raise ExportError(
            f"Exporting {backbone_name!r} to ONNX (exporter={exporter!r}, opset {opset}) "
            f"failed: {err}. Try exporter={other!r} or another opset."
        ) from err


def _difference(
    session: Any, net: nn.Module, to_graph: nn.Module | None, images: torch.Tensor, name: str
) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on one batch."""
    n = len(images)
    with torch.inference_mode():
        expected = net(images).numpy()
        fed = images if to_graph is None else to_graph(images)
    try:
        got = session.run([OUTPUT_NAME], {INPUT_NAME: fed.numpy()})[0]
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise ExportError(f"onnxruntime cannot run {name!r} on batch {n}: {err}") from err
    if got.shape != expected.shape:
        raise ExportError(
            f"{name!r} returned shape {got.shape} for batch {n}, PyTorch "
            f"{expected.shape}; export again with dynamic_batch=True."
        )
    return float(np.abs(got - expected).max())


def _cpu_eval_copy(model: SiameseEmbedder) -> SiameseEmbedder:
    """The model in eval mode on CPU, copied when that would change the caller's model."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if on_cpu and not model.training:
        return model
    net = copy.deepcopy(model) if on_cpu else copy.deepcopy(model).to("cpu")
    return net.eval()


def _export(
    net: nn.Module,
    example: torch.Tensor,
    out: Path,
    opset: int,
    dynamic_batch: bool,
    exporter: Exporter,
) -> None:
    common: dict[str, Any] = {
        "input_names": [INPUT_NAME],
        "output_names": [OUTPUT_NAME],
        "opset_version": opset,
    }
    with _quiet():
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(
                net,
                (example,),
                str(out),
                dynamo=True,
                dynamic_shapes={INPUT_NAME: {0: batch}} if dynamic_batch else None,
                external_data=False,
                verbose=False,
                **common,
            )
        else:
            axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
            torch.onnx.export(
                net,
                (example,),
                str(out),
                dynamo=False,
                dynamic_axes=axes if dynamic_batch else None,
                **common,
            )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints and deprecation warnings."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _write_metadata(path: Path, model: SiameseEmbedder, input_norm: InputNorm) -> None:
    try:
        import onnx
    except ImportError as err:
        raise ExportError(f"Cannot add metadata to {str(path)!r}: {err}. {_INSTALL_HINT}") from err
    # the saved model's own record (config.json), with the input statistics this graph expects
    record = config_record(model)
    mean, std = input_stats(model, input_norm)
    record.update(
        mean=list(mean),
        std=list(std),
        input_norm=input_norm,
        model_mean=list(model.data_config.mean),
        model_std=list(model.data_config.std),
    )
    props = {key: v if isinstance(v, str) else json.dumps(v) for key, v in record.items()}
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(path))


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session of ``path``, or an ExportError saying what is missing."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ExportError(f"Cannot verify {str(path)!r}: {err}. {_INSTALL_HINT}") from err
    if not path.is_file():
        raise ExportError(f"No ONNX file at {str(path)!r}; export one with to_onnx first.")
    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own error types are not importable by name
        raise ExportError(f"onnxruntime cannot load {str(path)!r}: {err}") from err
