"""Export a :class:`~siamreid.SiameseEmbedder` to ONNX, check it in onnxruntime, package for BoxMOT.

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

Modules: :mod:`siamreid.export.onnx` (export and verification), :mod:`siamreid.export.boxmot`
(BoxMOT packaging). Needs the ``onnx`` extra: ``pip install siamreid[onnx]`` (onnx,
onnxruntime, onnxscript).
"""

from __future__ import annotations

from siamreid.export._normalisation import InputNorm
from siamreid.export.boxmot import to_boxmot, write_boxmot_metadata
from siamreid.export.onnx import Exporter, to_onnx, verify_onnx

__all__ = [
    "Exporter",
    "InputNorm",
    "to_boxmot",
    "to_onnx",
    "verify_onnx",
    "write_boxmot_metadata",
]
