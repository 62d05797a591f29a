"""Export a :class:`~siamreid.SiameseEmbedder` to ONNX and check it in onnxruntime.

The graph takes ``images``, a float32 ``[N, 3, H, W]`` batch (static ``H x W``) already resized
and normalised, and returns ``embeddings`` ``[N, D]``. Which normalisation the graph expects is
the ``input_norm`` choice: ``"model"`` (the backbone's own mean/std, as ``model.eval_transform``
does) or ``"imagenet"`` (ImageNet mean/std whatever the backbone; a backbone trained with other
statistics, such as ViT's 0.5, gets a small renormalising layer in front). The file's metadata
records what a runtime needs to prepare inputs: ``input_size``, ``mean``, ``std`` (those the
graph expects), ``input_norm``, ``model_mean``, ``model_std``, ``interpolation``, ``metric``,
``backbone``, ``embedding_dim``, ``siamreid_version``.

:func:`to_boxmot` writes a file that BoxMOT's re-id runtime and trackers load unchanged:
ImageNet input normalisation and BoxMOT's ``<file>.onnx.metadata.json`` sidecar.

Needs the ``onnx`` extra: ``pip install siamreid[onnx]`` (onnx, onnxruntime, onnxscript).
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
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from siamreid._io import atomic_write_json
from siamreid._version import __version__
from siamreid.errors import ExportError
from siamreid.models.embedder import SiameseEmbedder
from siamreid.models.serialization import config_record

__all__ = [
    "Exporter",
    "InputNorm",
    "to_boxmot",
    "to_onnx",
    "verify_onnx",
    "write_boxmot_metadata",
]

Exporter = Literal["dynamo", "torchscript"]
InputNorm = Literal["model", "imagenet"]
"""Which mean/std the exported graph expects: the backbone's own, or ImageNet's (BoxMOT's)."""
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
    """Write ``model`` as a single ONNX file mapping image batches to embeddings.

    The graph's height and width are fixed to ``model.config.input_size``.

    Args:
        model: The embedder (exported from a CPU copy, in eval mode; ``model`` is unchanged).
        path: Output ``.onnx`` file; its folder is created.
        opset: ONNX opset version.
        dynamic_batch: Accept any batch size; else the graph is fixed to ``batch_size``.
        batch_size: Batch size of a fixed-batch graph (ignored with ``dynamic_batch``).
        exporter: ``"dynamo"`` (``torch.export``, the maintained path; needs onnxscript) or
            ``"torchscript"`` (the legacy tracer, deprecated by PyTorch but faster to run).
        input_norm: ``"model"``: the graph expects images normalised with the backbone's own
            mean/std (``model.eval_transform``). ``"imagenet"``: with ImageNet's mean/std, as
            BoxMOT and most deployment runtimes feed every model; when the backbone's
            statistics differ (ViT, DeiT, CLIP: 0.5), a renormalising layer in front of the
            backbone maps one onto the other, so the embeddings do not change.
        verify: Run the file in onnxruntime and compare with PyTorch (see :func:`verify_onnx`).
        atol: Largest absolute difference accepted by the verification.

    Returns:
        The path of the ONNX file.

    Raises:
        ExportError: The exporter failed or is missing, or the verification found a
            difference above ``atol``.

    Example:
        >>> to_onnx(model, "reid.onnx")  # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("reid.onnx")  # doctest: +SKIP
    """
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
    net = _cpu_eval_copy(model)
    graph = _with_input_norm(net, input_norm)
    height, width = model.config.input_size
    example = torch.randn(2 if dynamic_batch else batch_size, 3, height, width)
    try:
        _export(graph, example, out, opset, dynamic_batch, exporter)
    except ImportError as err:
        raise ExportError(f"Cannot export to ONNX: {err}. {_INSTALL_HINT}") from err
    except Exception as err:  # exporters fail with many types; all mean "not exportable"
        other = "torchscript" if exporter == "dynamo" else "dynamo"
        raise ExportError(
            f"Exporting {model.backbone_name!r} to ONNX (exporter={exporter!r}, opset {opset}) "
            f"failed: {err}. Try exporter={other!r} or another opset."
        ) from err
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
    session = _session(Path(path))
    net = _cpu_eval_copy(model)
    to_graph = _renormalisation(session, model)
    height, width = model.config.input_size
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for n in batch_sizes:
        images = torch.randn(n, 3, height, width, generator=generator)
        with torch.inference_mode():
            expected = net(images).numpy()
            fed = images if to_graph is None else to_graph(images)
        try:
            got = session.run([OUTPUT_NAME], {INPUT_NAME: fed.numpy()})[0]
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise ExportError(f"onnxruntime cannot run {str(path)!r} on batch {n}: {err}") from err
        if got.shape != expected.shape:
            raise ExportError(
                f"{str(path)!r} returned shape {got.shape} for batch {n}, PyTorch "
                f"{expected.shape}; export again with dynamic_batch=True."
            )
        worst = max(worst, float(np.abs(got - expected).max()))
    if not worst <= atol:
        raise ExportError(
            f"{str(path)!r} disagrees with PyTorch: max abs difference {worst:.3g} > atol "
            f"{atol:g}. Try the other exporter or another opset."
        )
    return worst


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
    if Path(path).suffix.lower() != ".onnx":
        raise ExportError(
            f"BoxMOT picks its runtime by the file suffix; {str(path)!r} does not end in "
            "'.onnx'. Name the file like reid.onnx."
        )
    out = to_onnx(
        model,
        path,
        opset=opset,
        exporter=exporter,
        input_norm="imagenet",
        verify=verify,
        atol=atol,
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


def _graph_batch(path: Path) -> int | str:
    """The batch dimension of the file's input: a fixed size, or the name of a free one."""
    session = _session(path)
    first = session.get_inputs()[0].shape[0]
    return first if isinstance(first, int) else str(first)


class _InputRenorm(nn.Module):
    """Maps images normalised with one mean/std onto another: ``x * scale + shift``.

    ``x_model = (x_in * std_in + mean_in - mean_model) / std_model``.
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(
        self,
        mean_in: Sequence[float],
        std_in: Sequence[float],
        mean_model: Sequence[float],
        std_model: Sequence[float],
    ) -> None:
        super().__init__()
        m_in, s_in = torch.tensor(mean_in), torch.tensor(std_in)
        m_out, s_out = torch.tensor(mean_model), torch.tensor(std_model)
        self.register_buffer("scale", (s_in / s_out).view(1, 3, 1, 1))
        self.register_buffer("shift", ((m_in - m_out) / s_out).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.scale + self.shift


def _input_stats(
    model: SiameseEmbedder, input_norm: InputNorm
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std the exported graph expects at its input."""
    if input_norm == "imagenet":
        return tuple(IMAGENET_DEFAULT_MEAN), tuple(IMAGENET_DEFAULT_STD)
    return tuple(model.data_config.mean), tuple(model.data_config.std)


def _needs_renorm(model: SiameseEmbedder, input_norm: InputNorm) -> bool:
    mean, std = _input_stats(model, input_norm)
    own = (*model.data_config.mean, *model.data_config.std)
    return not np.allclose((*mean, *std), own, rtol=0.0, atol=1e-6)


def _with_input_norm(net: SiameseEmbedder, input_norm: InputNorm) -> nn.Module:
    """``net``, behind a renormalising layer when its statistics differ from the input's."""
    if not _needs_renorm(net, input_norm):
        return net
    mean, std = _input_stats(net, input_norm)
    renorm = _InputRenorm(mean, std, net.data_config.mean, net.data_config.std)
    return nn.Sequential(renorm, net).eval()


def _renormalisation(session: Any, model: SiameseEmbedder) -> _InputRenorm | None:
    """What turns the backbone's normalisation into the one the file's graph expects."""
    props = session.get_modelmeta().custom_metadata_map
    if "mean" not in props or "std" not in props:
        return None  # an older file: the graph expects the backbone's statistics
    mean, std = json.loads(props["mean"]), json.loads(props["std"])
    own = (*model.data_config.mean, *model.data_config.std)
    if np.allclose((*mean, *std), own, rtol=0.0, atol=1e-6):
        return None
    return _InputRenorm(model.data_config.mean, model.data_config.std, mean, std)


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
    mean, std = _input_stats(model, input_norm)
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


def _session(path: Path) -> Any:
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
