"""Re-id image transforms on ``torchvision.transforms.v2``, built from a :class:`TransformConfig`.

timm's ``create_transform`` is not used on purpose: it trains with RandomResizedCrop and
evaluates with a centre crop, both of which cut heads and feet off pedestrian crops. Only the
backbone's ``mean``, ``std`` and ``interpolation`` come from timm (the caller passes them, taken
from ``timm.data.resolve_model_data_config``). All randomness comes from the torch RNG, so a
caller that seeds it per item gets the same augmentation whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torchvision.transforms import InterpolationMode, v2

from siamreid.errors import ConfigError

__all__ = ["TransformConfig", "build_eval_transform", "build_train_transform"]

Transform = Callable[[Any], torch.Tensor]
_INTERPOLATIONS = ("nearest", "nearest-exact", "bilinear", "bicubic")


@dataclass(frozen=True)
class TransformConfig:
    """Input size and train-time augmentation of re-id crops.

    Attributes:
        height: Output height in pixels.
        width: Output width in pixels.
        flip_prob: Probability of a horizontal flip.
        pad: Zero padding (pixels, each side) before the random crop back to ``height x width``;
            0 turns pad-and-crop off.
        random_erasing_prob: Probability of erasing one rectangle (filled with 0 after
            normalisation, i.e. the mean colour).
        random_erasing_scale: Range of the erased area as a fraction of the image.
        random_erasing_ratio: Range of the erased rectangle's aspect ratio.
    """

    height: int = 256
    width: int = 128
    flip_prob: float = 0.5
    pad: int = 10
    random_erasing_prob: float = 0.5
    random_erasing_scale: tuple[float, float] = (0.02, 0.4)
    random_erasing_ratio: tuple[float, float] = (0.3, 3.3)

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"TransformConfig.{name} must be >= 1, got {getattr(self, name)}."
                )
        for name in ("flip_prob", "random_erasing_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(
                    f"TransformConfig.{name} must be a probability in [0, 1], "
                    f"got {getattr(self, name)}."
                )
        if self.pad < 0:
            raise ConfigError(f"TransformConfig.pad must be >= 0, got {self.pad}.")
        _check_range("random_erasing_scale", self.random_erasing_scale, upper=1.0)
        _check_range("random_erasing_ratio", self.random_erasing_ratio, upper=None)
        object.__setattr__(self, "random_erasing_scale", tuple(self.random_erasing_scale))
        object.__setattr__(self, "random_erasing_ratio", tuple(self.random_erasing_ratio))


def _check_range(name: str, value: Sequence[float], upper: float | None) -> None:
    ok = len(value) == 2 and 0.0 < value[0] <= value[1]
    if ok and upper is not None:
        ok = value[1] <= upper
    if not ok:
        bound = f" <= {upper}" if upper is not None else ""
        raise ConfigError(
            f"TransformConfig.{name} must be a pair (low, high) with 0 < low <= high{bound}, "
            f"got {value!r}."
        )


def build_train_transform(
    cfg: TransformConfig,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> Transform:
    """Resize, random flip, pad + random crop, to float tensor, normalise, random erasing.

    Args:
        cfg: Size and augmentation settings.
        mean: Per-channel RGB mean of the backbone (from its timm data config).
        std: Per-channel RGB standard deviation of the backbone.
        interpolation: Resize interpolation (``"bicubic"``, ``"bilinear"``, ``"nearest"``).

    Returns:
        A callable taking a PIL image (or a uint8 ``CxHxW`` tensor) to a float ``3 x H x W``
        tensor.

    Example:
        >>> cfg = TransformConfig(height=256, width=128)
        >>> tf = build_train_transform(cfg, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        >>> tf(Image.new("RGB", (64, 128))).shape  # doctest: +SKIP
        torch.Size([3, 256, 128])
    """
    steps: list[Any] = [*_resize(cfg, interpolation)]
    if cfg.flip_prob > 0:
        steps.append(v2.RandomHorizontalFlip(cfg.flip_prob))
    if cfg.pad > 0:
        steps.append(v2.RandomCrop((cfg.height, cfg.width), padding=cfg.pad, fill=0))
    steps.extend(_to_normalized(mean, std))
    if cfg.random_erasing_prob > 0:
        steps.append(
            v2.RandomErasing(
                cfg.random_erasing_prob,
                scale=cfg.random_erasing_scale,
                ratio=cfg.random_erasing_ratio,
                value=0,
            )
        )
    return v2.Compose(steps)  # type: ignore[no-any-return]


def build_eval_transform(
    cfg: TransformConfig,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> Transform:
    """Resize to ``cfg.height x cfg.width``, to float tensor, normalise (no randomness).

    Arguments are those of :func:`build_train_transform`; only the size of ``cfg`` is used.

    Example:
        >>> tf = build_eval_transform(TransformConfig(), (0.5,) * 3, (0.5,) * 3)
        >>> tf(Image.new("RGB", (64, 128))).shape  # doctest: +SKIP
        torch.Size([3, 256, 128])
    """
    return v2.Compose([*_resize(cfg, interpolation), *_to_normalized(mean, std)])  # type: ignore[no-any-return]


def _resize(cfg: TransformConfig, interpolation: str) -> list[Any]:
    if interpolation not in _INTERPOLATIONS:
        raise ConfigError(
            f"interpolation {interpolation!r} is not supported; expected one of "
            f"{list(_INTERPOLATIONS)} (pass 'bicubic' for backbones that ask for another)."
        )
    mode = InterpolationMode(interpolation)
    # ToImage first: PIL images, arrays and uint8 tensors then follow one tensor path.
    return [v2.ToImage(), v2.Resize((cfg.height, cfg.width), interpolation=mode, antialias=True)]


def _to_normalized(mean: Sequence[float], std: Sequence[float]) -> list[Any]:
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ConfigError(
            f"mean and std must hold 3 values (RGB) with std > 0, got mean={tuple(mean)} "
            f"std={tuple(std)}; take them from timm.data.resolve_model_data_config(model)."
        )
    return [
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[float(m) for m in mean], std=[float(s) for s in std]),
    ]
