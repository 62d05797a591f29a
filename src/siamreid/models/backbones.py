"""Backbones by name from timm: name checks, pretrained or local weights, data configuration."""

from __future__ import annotations

import difflib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from timm.data.config import resolve_model_data_config
from torch import nn

from siamreid.errors import BackboneError, PretrainedWeightsError
from siamreid.models import architectures  # noqa: F401  (registers OSNet & co. with timm)
from siamreid.models.pooling import use_gem_pooling

__all__ = [
    "BackboneDataConfig",
    "backbone_data_config",
    "check_backbone_name",
    "create_backbone",
    "has_download",
    "set_last_stride_one",
    "similar_model_names",
]

_HUB_PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class BackboneDataConfig:
    """Input statistics a backbone was trained with, from its timm ``pretrained_cfg``.

    Attributes:
        mean: Per-channel RGB mean.
        std: Per-channel RGB standard deviation.
        interpolation: Resize interpolation (``"bicubic"``, ``"bilinear"``, ...).
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str


def similar_model_names(name: str, limit: int = 5) -> list[str]:
    """timm model names close to ``name``, best first (for "did you mean" messages)."""
    scored = []
    for candidate in timm.list_models():
        matcher = difflib.SequenceMatcher(None, name, candidate)
        if matcher.real_quick_ratio() >= 0.6 and matcher.ratio() >= 0.6:
            scored.append((-matcher.ratio(), candidate))  # ties: alphabetical, so b0 before b8
    return [candidate for _, candidate in sorted(scored)[:limit]]


def check_backbone_name(name: str) -> None:
    """Refuse a name timm does not know (``hf-hub:`` names are checked when downloaded).

    Raises:
        BackboneError: ``name`` is no timm model; the message lists the closest names.
    """
    if name.startswith("hf-hub:") or timm.is_model(name):
        return
    close = similar_model_names(name.split(".")[0])
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise BackboneError(
        f"Unknown backbone {name!r}: timm has no model of that name.{hint} "
        "List the names with timm.list_models('*pattern*')."
    )


def hub_reachable() -> bool:
    """Whether the Hugging Face hub answers a TCP connection within a few seconds."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=_HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _weights_cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    if name.startswith("hf-hub:"):
        hub_id: str | None = name[len("hf-hub:") :].split("@")[0]
    else:
        cfg = get_pretrained_cfg(name)
        hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        return False
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        if isinstance(try_to_load_from_cache(hub_id, filename), str):
            return True
    return False


def has_download(name: str) -> bool:
    """Whether timm names a download for ``name`` (OSNet names none: its builder says so)."""
    from timm.models import get_pretrained_cfg

    if name.startswith("hf-hub:"):
        return True
    cfg = get_pretrained_cfg(name)
    return cfg is None or bool(cfg.hf_hub_id or cfg.url)


def _fixed_input_size(name: str) -> bool:
    """Whether timm builds ``name`` for a single input size (transformers with position grids)."""
    from timm.models import get_pretrained_cfg

    cfg = None if name.startswith("hf-hub:") else get_pretrained_cfg(name)
    return bool(getattr(cfg, "fixed_input_size", False))


def _offline_error(name: str) -> PretrainedWeightsError:
    return PretrainedWeightsError(
        f"Cannot download the pretrained weights of {name!r}: the Hugging Face hub is not "
        "reachable and the weights are not in the local cache. Either pass a local checkpoint, "
        f"e.g. SiameseEmbedder({name!r}, weights='path/to/{name}.safetensors') "
        "(an ImageNet checkpoint timm can read: .safetensors, .pth or .bin), or train from "
        "scratch with pretrained=False."
    )


def check_hub_access(name: str, *, pretrained: bool) -> None:
    """Fail fast when building ``name`` needs the Hugging Face hub and it cannot be reached.

    timm retries for ~45 s before giving up; this probes once (a few seconds) and raises at once
    when the weights (or, for ``hf-hub:`` names, the model itself) are not in the local cache.

    Raises:
        PretrainedWeightsError: The hub is needed, unreachable, and the files are not cached.
    """
    wants_hub = pretrained or name.startswith("hf-hub:")  # hf-hub names always download
    if wants_hub and has_download(name) and not _weights_cached(name) and not hub_reachable():
        raise _offline_error(name)


def create_backbone(
    name: str,
    *,
    pretrained: bool = False,
    weights: str | os.PathLike[str] | None = None,
    drop_path_rate: float | None = None,
    img_size: tuple[int, int] | None = None,
    pooling: str = "avg",
    last_stride: int | None = None,
) -> nn.Module:
    """Create a timm backbone that returns pooled features (``num_classes=0``).

    Args:
        name: Any timm model name (``timm.list_models()``), with an optional pretrained tag.
        pretrained: Load timm's pretrained weights from the Hugging Face hub (or its cache).
        weights: A local weights file; implies pretrained weights and outranks the hub.
        drop_path_rate: Stochastic depth rate, for backbones that support it.
        img_size: ``(height, width)`` of the input. Passed on only to backbones built for one
            input size (ViT, DeiT, Swin, EVA...: timm's ``fixed_input_size``), whose position
            embeddings timm then resamples from the pretrained size.
        pooling: ``"avg"`` (the backbone's own) or ``"gem"`` (see
            :func:`~siamreid.models.pooling.use_gem_pooling`).
        last_stride: ``1``: the re-id "last stride" trick for ResNets (see
            :func:`set_last_stride_one`); ``None`` keeps the backbone as built.

    Returns:
        The backbone; ``backbone.num_features`` is its feature width.

    Raises:
        BackboneError: Unknown model name, or a pooling / last stride it cannot take.
        PretrainedWeightsError: Weights unreachable offline, or the local file is missing or
            does not fit the architecture.

    Example:
        >>> net = create_backbone("resnet18", pretrained=False)
        >>> net.num_features
        512
    """
    check_backbone_name(name)
    kwargs: dict[str, Any] = {"num_classes": 0}
    if drop_path_rate is not None:
        kwargs["drop_path_rate"] = drop_path_rate
    if img_size is not None and _fixed_input_size(name):
        kwargs["img_size"] = tuple(img_size)
    if weights is not None:
        net = _from_weights_file(name, Path(weights), kwargs)
    else:
        check_hub_access(name, pretrained=pretrained)
        try:
            net = timm.create_model(name, pretrained=pretrained, **kwargs)
        except OSError as err:  # huggingface_hub raises OSError subclasses when offline
            raise _offline_error(name) from err
    if last_stride == 1:
        set_last_stride_one(net, name)
    if pooling == "gem":
        use_gem_pooling(net, name)
    return net


def set_last_stride_one(backbone: nn.Module, name: str) -> None:
    """Give a ResNet-style backbone's last stage stride 1, in place (Luo et al.'s "last stride").

    The first block of ``layer4`` stops downsampling (its strided convolutions, and the
    average pooling of "-d" shortcuts, go to stride 1), so the final feature map keeps twice
    the height and width: 16x8 instead of 8x4 for a 256x128 input. No weight changes shape.

    Raises:
        BackboneError: The backbone has no ``layer4`` stage whose first block downsamples.
    """
    stage = getattr(backbone, "layer4", None)
    first = stage[0] if isinstance(stage, nn.Sequential) and len(stage) else None
    changed = first is not None and _stop_striding(first, name)
    if not changed:
        raise BackboneError(
            f"last_stride=1 cannot apply to backbone {name!r}: it sets the stride of a ResNet's "
            "last stage (the first block of 'layer4') to 1, and "
            f"{name!r} has {'no such stage' if first is None else 'no stride there'}. Use "
            "last_stride=None, or a ResNet-style backbone (resnet50, resnet50d, resnext50_32x4d, "
            "seresnet50...)."
        )


def _stop_striding(block: nn.Module, name: str) -> bool:
    """Set every downsampling layer of ``block`` to stride 1; whether there was one."""
    changed = False
    for path, module in list(block.named_modules()):
        if getattr(module, "stride", 1) in (1, (1, 1)) or next(module.children(), None):
            continue  # blocks record their stride too: only leaf layers stride
        if isinstance(module, nn.Conv2d):
            module.stride = (1, 1)
        elif isinstance(module, nn.AvgPool2d | nn.MaxPool2d) and module.kernel_size in (2, (2, 2)):
            parent_path, _, attr = path.rpartition(".")  # a pool that only downsampled
            setattr(block.get_submodule(parent_path), attr, nn.Identity())
        elif isinstance(module, nn.AvgPool2d | nn.MaxPool2d):
            module.stride = 1  # a smoothing pool (ResNeSt's avd): keep it, stop striding
        else:
            raise BackboneError(
                f"last_stride=1 cannot apply to backbone {name!r}: layer4.0.{path} "
                f"({type(module).__name__}) downsamples and siamreid cannot change it. "
                "Use last_stride=None, or a ResNet without anti-aliasing."
            )
        changed = True
    return changed


def _from_weights_file(name: str, path: Path, kwargs: dict[str, Any]) -> nn.Module:
    """Backbone ``name`` with the ImageNet weights of a local timm checkpoint file."""
    if not path.is_file():
        raise PretrainedWeightsError(
            f"Weights file {str(path)!r} for backbone {name!r} does not exist. Pass the path "
            "of a timm checkpoint (.safetensors, .pth or .bin) or weights=None."
        )
    try:
        return timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
        )
    except (RuntimeError, KeyError, ValueError, OSError) as err:
        raise PretrainedWeightsError(
            f"Weights file {str(path)!r} does not fit backbone {name!r}: {err}. Check that "
            "the file holds this architecture's ImageNet state dict."
        ) from err


def backbone_data_config(backbone: nn.Module) -> BackboneDataConfig:
    """Mean, std and interpolation from the backbone's timm pretrained configuration."""
    cfg = resolve_model_data_config(backbone)  # type: ignore[no-untyped-call]
    mean = tuple(float(v) for v in cfg["mean"])
    std = tuple(float(v) for v in cfg["std"])
    if len(mean) != 3 or len(std) != 3:
        raise BackboneError(
            f"Backbone expects {len(mean)} input channels; siamreid embeds RGB images (3 channels)."
        )
    return BackboneDataConfig(
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        interpolation=str(cfg.get("interpolation", "bicubic")),
    )


def feature_width(backbone: nn.Module) -> int:
    """The pooled feature width of a timm backbone."""
    # Models with a conv head (MobileNetV3, LCNet, GhostNet) pool to head_hidden_size.
    width = getattr(backbone, "head_hidden_size", None) or getattr(backbone, "num_features", None)
    if isinstance(width, int):
        return width
    with torch.no_grad():  # non-timm modules: measure it
        return int(backbone(torch.zeros(1, 3, 64, 32)).shape[-1])
