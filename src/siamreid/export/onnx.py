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
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn

from siamreid._io import atomic_write
from siamreid.errors import ExportError
from siamreid.export._arguments import INSTALL_HINT, check_atol, checked_arguments
from siamreid.export._normalisation import (
    InputNorm,
    input_stats,
    renormalisation,
    with_input_norm,
)
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.serialization import config_record

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "Exporter",
    "export_onnx",
    "file_opset",
    "onnx_session",
    "to_onnx",
    "verify_onnx",
]

Exporter = Literal["dynamo", "torchscript"]
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"


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

    The file is written atomically and read back (and, with ``verify``, run) before it
    replaces what ``path`` held: a failure, a full disk or a kill leaves the old file whole.

    Args:
        model: The embedder (exported from a CPU copy, in eval mode; ``model`` is unchanged).
        path: Output ``.onnx`` file; its folder is created.
        opset: ONNX opset version: 18 or newer with ``"dynamo"``, 7 to 20 with
            ``"torchscript"``; the file holds exactly this one.
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
        InputError: ``opset`` is outside the exporter's range, or ``atol`` is not positive.
        ExportError: The exporter failed or is missing, the file read back differs from what
            was asked, or verification exceeded ``atol``.
        OSError: The file cannot be written (a full disk), naming ``path``.

    Example:
        >>> to_onnx(model, "reid.onnx")  # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("reid.onnx")  # doctest: +SKIP
    """
    return export_onnx(
        model,
        path,
        opset=opset,
        dynamic_batch=dynamic_batch,
        batch_size=batch_size,
        exporter=exporter,
        input_norm=input_norm,
        verify=verify,
        atol=atol,
    )[0]


def export_onnx(
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
) -> tuple[Path, float | None]:
    """:func:`to_onnx`, also returning the verification's largest difference (``None``
    without ``verify``): what ``siamreid export`` prints.

    The graph is built in memory and written atomically: the file is read back (opset,
    metadata, ``onnx.checker``) and, with ``verify``, run in onnxruntime before it replaces
    whatever ``path`` held, so a failure, a full disk or a kill leaves the old file whole.
    """
    out = checked_arguments(path, opset, exporter, batch_size, input_norm, atol)
    net = _cpu_eval_copy(model)
    height, width = model.config.input_size
    example = torch.randn(2 if dynamic_batch else batch_size, 3, height, width)
    graph = with_input_norm(net, input_norm)
    proto = _export_or_explain(graph, example, opset, dynamic_batch, exporter, model.backbone_name)
    _add_metadata(proto, model, input_norm)
    blob = proto.SerializeToString()
    sizes = (1, 7) if dynamic_batch else (batch_size,)
    worst: list[float] = []

    def check(tmp: Path) -> None:
        _check_written(tmp, out, opset)
        if verify:
            worst.append(_verify(tmp, net, sizes, atol, seed=0, name=str(out)))

    atomic_write(out, lambda tmp: tmp.write_bytes(blob), check=check)
    return out, (worst[0] if worst else None)


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
    check_atol(atol)
    return _verify(Path(path), model, batch_sizes, atol, seed=seed, name=str(path))


def _verify(
    path: Path,
    model: SiameseEmbedder,
    batch_sizes: Sequence[int],
    atol: float,
    *,
    seed: int,
    name: str,
) -> float:
    """:func:`verify_onnx` of ``path``, whose messages call the file ``name``."""
    session = onnx_session(path, name=name)
    net = _cpu_eval_copy(model)
    to_graph = renormalisation(session, model)
    height, width = model.config.input_size
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for n in batch_sizes:
        images = torch.randn(n, 3, height, width, generator=generator)
        worst = max(worst, _difference(session, net, to_graph, images, name))
    if not worst <= atol:
        raise ExportError(
            f"{name!r} disagrees with PyTorch: max abs difference {worst:.3g} > atol "
            f"{atol:g}. Try the other exporter or another opset."
        )
    return worst


def _export_or_explain(
    graph: nn.Module,
    example: torch.Tensor,
    opset: int,
    dynamic_batch: bool,
    exporter: Exporter,
    backbone_name: str,
) -> Any:
    """:func:`_export`, its failures turned into an ExportError that says what to try."""
    try:
        return _export(graph, example, opset, dynamic_batch, exporter)
    except ImportError as err:
        raise ExportError(f"Cannot export to ONNX: {err}. {INSTALL_HINT}") from err
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
    net: nn.Module, example: torch.Tensor, opset: int, dynamic_batch: bool, exporter: Exporter
) -> Any:
    """The exported graph as an in-memory ``onnx.ModelProto`` (nothing is written)."""
    import onnx

    common: dict[str, Any] = {
        "input_names": [INPUT_NAME],
        "output_names": [OUTPUT_NAME],
        "opset_version": opset,
    }
    with _quiet():
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1)
            program = torch.onnx.export(
                net,
                (example,),
                None,
                dynamo=True,
                dynamic_shapes={INPUT_NAME: {0: batch}} if dynamic_batch else None,
                verbose=False,
                **common,
            )
            if program is None:
                raise RuntimeError("torch.onnx.export returned no program")
            return program.model_proto
        axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
        buffer = io.BytesIO()
        torch.onnx.export(
            net,
            (example,),
            cast(Any, buffer),  # typed as a path, but the tracer writes to a file object too
            dynamo=False,
            dynamic_axes=axes if dynamic_batch else None,
            **common,
        )
        return onnx.load_from_string(buffer.getvalue())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints and deprecation warnings."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _add_metadata(proto: Any, model: SiameseEmbedder, input_norm: InputNorm) -> None:
    """Set the metadata props: the saved model's own record (``config.json``) with the input
    statistics this graph expects."""
    import onnx

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
    onnx.helper.set_model_props(proto, props)


def _check_written(tmp: Path, out: Path, opset: int) -> None:
    """Read the written file back: a valid model of the asked opset with its metadata."""
    import onnx

    try:
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
    except Exception as err:  # onnx raises its own untyped errors
        raise ExportError(f"The ONNX file written for {str(out)!r} is invalid: {err}") from err
    written = file_opset(tmp)
    if written != opset:
        raise ExportError(
            f"The exporter wrote opset {written}, not the {opset} asked for, so {str(out)!r} "
            f"was not written. Ask for opset {written}, or try the other exporter."
        )
    if not any(p.key == "input_size" for p in proto.metadata_props):
        raise ExportError(f"The ONNX file written for {str(out)!r} lost its metadata.")


def file_opset(path: str | os.PathLike[str]) -> int:
    """The default-domain (``ai.onnx``) opset an ONNX file holds, read back with ``onnx.load``."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ExportError(f"{str(path)!r} imports no ai.onnx opset; it is not a model file.")
    return int(versions[0])


def onnx_session(path: Path, *, name: str | None = None) -> Any:
    """An onnxruntime CPU session of ``path``, or an ExportError saying what is missing
    (messages call the file ``name``, by default ``path``)."""
    name = str(path) if name is None else name
    try:
        import onnxruntime
    except ImportError as err:
        raise ExportError(f"Cannot verify {name!r}: {err}. {INSTALL_HINT}") from err
    if not path.is_file():
        raise ExportError(f"No ONNX file at {name!r}; export one with to_onnx first.")
    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own error types are not importable by name
        raise ExportError(f"onnxruntime cannot load {name!r}: {err}") from err
