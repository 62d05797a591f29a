"""Train/eval transforms: shape, dtype, normalisation, each augmentation, config validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.transforms import TransformConfig, build_eval_transform, build_train_transform
from siamreid.errors import ConfigError

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
OFF = {"flip_prob": 0.0, "pad": 0, "random_erasing_prob": 0.0}


def _image(seed: int = 0, size: tuple[int, int] = (64, 128)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("size", [(64, 128), (30, 97), (200, 100)])
@pytest.mark.parametrize("build", [build_train_transform, build_eval_transform])
def test_output_is_float_chw_at_config_size(size: tuple[int, int], build: object) -> None:
    cfg = TransformConfig(height=64, width=32)
    out = build(cfg, MEAN, STD)(_image(size=size))  # type: ignore[operator]
    assert out.shape == (3, 64, 32)
    assert out.dtype == torch.float32


def test_eval_normalises_with_the_given_statistics() -> None:
    colour = (200, 100, 30)
    out = build_eval_transform(TransformConfig(height=16, width=8), MEAN, STD)(
        Image.new("RGB", (40, 90), colour)
    )
    expected = (torch.tensor(colour) / 255 - torch.tensor(MEAN)) / torch.tensor(STD)
    torch.testing.assert_close(out, expected[:, None, None].expand(3, 16, 8), atol=1e-5, rtol=0)


def test_eval_is_deterministic_and_accepts_uint8_tensors() -> None:
    tf = build_eval_transform(TransformConfig(height=32, width=16), MEAN, STD, "bilinear")
    img = _image()
    torch.testing.assert_close(tf(img), tf(img))
    as_tensor = torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()
    torch.testing.assert_close(tf(as_tensor), tf(img))


def test_train_without_augmentation_equals_eval() -> None:
    cfg = TransformConfig(height=32, width=16, **OFF)
    img = _image(1)
    torch.testing.assert_close(
        build_train_transform(cfg, MEAN, STD)(img), build_eval_transform(cfg, MEAN, STD)(img)
    )


def test_flip_with_probability_one_mirrors() -> None:
    cfg = TransformConfig(height=32, width=16, **{**OFF, "flip_prob": 1.0})
    img = _image(2)
    flipped = build_train_transform(cfg, MEAN, STD)(img)
    torch.testing.assert_close(flipped, build_eval_transform(cfg, MEAN, STD)(img).flip(-1))


def test_pad_and_crop_shifts_the_image_within_the_pad() -> None:
    cfg = TransformConfig(height=32, width=16, **{**OFF, "pad": 3})
    img = _image(3)
    reference = build_eval_transform(cfg, MEAN, STD)(img)
    torch.manual_seed(0)
    tf = build_train_transform(cfg, MEAN, STD)
    outs = [tf(img) for _ in range(10)]
    assert any(not torch.equal(o, reference) for o in outs)
    black = (torch.zeros(3) - torch.tensor(MEAN)) / torch.tensor(STD)  # the pad, normalised
    padded = black[:, None, None].repeat(1, 38, 22)
    padded[:, 3:35, 3:19] = reference
    crops = [padded[:, y : y + 32, x : x + 16] for y in range(7) for x in range(7)]
    for out in outs:  # each output is one of the 7 x 7 shifted crops of the padded image
        assert any(torch.allclose(out, c, atol=1e-6) for c in crops)


def test_random_erasing_fills_a_rectangle_with_zero() -> None:
    cfg = TransformConfig(height=32, width=16, **{**OFF, "random_erasing_prob": 1.0})
    img = _image(4)
    reference = build_eval_transform(cfg, MEAN, STD)(img)
    torch.manual_seed(0)
    out = build_train_transform(cfg, MEAN, STD)(img)
    changed = (out != reference).any(0)
    assert changed.any()
    assert torch.all(out[:, changed] == 0)
    rows, cols = changed.nonzero(as_tuple=True)
    box = changed[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert box.float().mean() > 0.9  # a rectangle (a few pixels may equal the mean already)


def test_train_transform_is_reproducible_under_a_torch_seed() -> None:
    tf = build_train_transform(TransformConfig(height=32, width=16), MEAN, STD)
    img = _image(5)
    torch.manual_seed(7)
    first = [tf(img) for _ in range(4)]
    torch.manual_seed(7)
    again = [tf(img) for _ in range(4)]
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", 0),
        ("width", -1),
        ("flip_prob", 1.5),
        ("random_erasing_prob", -0.1),
        ("pad", -2),
        ("random_erasing_scale", (0.5, 0.1)),
        ("random_erasing_scale", (0.1, 1.5)),
        ("random_erasing_ratio", (0.0, 2.0)),
    ],
)
def test_invalid_fields_name_themselves(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"TransformConfig.{field}"):
        TransformConfig(**{field: value})  # type: ignore[arg-type]


def test_lists_from_yaml_become_tuples() -> None:
    cfg = TransformConfig(random_erasing_scale=[0.1, 0.2])  # type: ignore[arg-type]
    assert cfg.random_erasing_scale == (0.1, 0.2)


@pytest.mark.parametrize(
    ("mean", "std", "interpolation", "match"),
    [
        ((0.5, 0.5), STD, "bicubic", "mean and std"),
        (MEAN, (0.2, 0.0, 0.2), "bicubic", "std > 0"),
        (MEAN, STD, "lanczos", "interpolation 'lanczos'"),
    ],
)
def test_bad_statistics_or_interpolation_raise(
    mean: tuple[float, ...], std: tuple[float, ...], interpolation: str, match: str
) -> None:
    for build in (build_train_transform, build_eval_transform):
        with pytest.raises(ConfigError, match=match):
            build(TransformConfig(), mean, std, interpolation)
