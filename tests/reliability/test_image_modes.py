"""Every image mode Pillow opens decodes to the right 8-bit RGB, or fails naming the file.

Each case writes a file the way a camera, a scanner or a science pipeline would (16-bit PNG and
TIFF, float TIFF, palettes with transparency, CMYK...), loads it with :func:`load_image` and
compares with the RGB computed here from the pixel values written.
"""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siamreid.data.images import load_image, to_rgb
from siamreid.errors import ImageLoadError

GRADIENT_16 = np.linspace(0, 65535, 64).round().astype(np.uint16).reshape(4, 16)


def _rgb(path_or_image: Any) -> np.ndarray[Any, Any]:
    image = load_image(path_or_image)
    assert image.mode == "RGB"
    return np.asarray(image)


def _grey(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _byte_order(mode: str) -> str:
    return ">u2" if mode == "I;16B" else "<u2"


def _16_bit(mode: str) -> Image.Image:
    h, w = GRADIENT_16.shape
    return Image.frombytes(mode, (w, h), GRADIENT_16.astype(_byte_order(mode)).tobytes())


@pytest.mark.parametrize(
    ("mode", "suffix"), [("I;16", ".png"), ("I;16", ".tif"), ("I;16B", ".tif")]
)
def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path, mode: str, suffix: str) -> None:
    path = tmp_path / f"grey16{suffix}"
    _16_bit(mode).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # Pillow kept the 16 bits
    rgb = _rgb(path)
    np.testing.assert_array_equal(rgb, _grey(GRADIENT_16 / 257))
    flat = rgb[..., 0].ravel()
    assert flat[0] == 0
    assert flat[-1] == 255
    assert np.all(np.diff(flat.astype(int)) >= 0)  # monotone
    assert len(np.unique(flat)) == flat.size  # 64 grey levels stay 64 grey levels
    middle = Image.frombytes(mode, (1, 1), np.array([32768], dtype=_byte_order(mode)).tobytes())
    assert _rgb(middle)[0, 0, 0] == 128


def test_32_bit_integer_greyscale(tmp_path: Path) -> None:
    path = tmp_path / "grey32.tif"
    Image.fromarray(GRADIENT_16.astype(np.int32)).save(path)
    np.testing.assert_array_equal(_rgb(path), _grey(GRADIENT_16 / 257))
    # outside the 16-bit range: scaled from the image's own range
    wide = np.linspace(-1000, 200000, 64).astype(np.int32).reshape(4, 16)
    Image.fromarray(wide).save(path)
    expected = (wide.astype(np.float64) - wide.min()) * 255 / (wide.max() - wide.min())
    np.testing.assert_array_equal(_rgb(path), _grey(expected))


@pytest.mark.parametrize(
    ("low", "high", "scale"),
    [(0.0, 1.0, "unit"), (0.0, 255.0, "kept"), (-2.0, 3.0, "range"), (0.0, 4000.0, "range")],
)
def test_float_greyscale_by_its_range(tmp_path: Path, low: float, high: float, scale: str) -> None:
    values = np.linspace(low, high, 64, dtype=np.float32).reshape(4, 16)
    path = tmp_path / "float.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode == "F"
    v = values.astype(np.float64)
    expected = {"unit": v * 255, "kept": v, "range": (v - low) * 255 / (high - low)}[scale]
    rgb = _rgb(path)
    np.testing.assert_array_equal(rgb, _grey(expected))
    assert (rgb.min(), rgb.max()) == (0, 255)


def test_float_nan_reads_as_black() -> None:
    values = np.array([[np.nan, 0.5, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(_rgb(Image.fromarray(values))[0, :, 0], [0, 128, 255])


def test_bilevel_and_8_bit_greyscale(tmp_path: Path) -> None:
    bits = np.arange(16).reshape(4, 4) % 3 == 0
    Image.fromarray(bits).convert("1").save(tmp_path / "bits.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "bits.png"), _grey(bits * 255.0))
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "grey.png"), _grey(grey))


def test_alpha_is_dropped_keeping_colours(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, 30, 90
    rgba[..., 3] = [[0, 128, 255], [255, 0, 64]]
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "rgba.png"), rgba[..., :3])
    la = np.stack([np.full((2, 3), 77, np.uint8), rgba[..., 3]], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(_rgb(tmp_path / "la.png"), _grey(la[..., 0]))


def test_premultiplied_alpha_is_unpremultiplied() -> None:
    # 'La' and 'RGBa' store colour x alpha / 255: half-transparent 100 means colour 199
    la = Image.new("La", (1, 1), (100, 128))
    assert abs(int(_rgb(la)[0, 0, 0]) - 199) <= 1
    rgba = Image.new("RGBa", (1, 1), (100, 50, 20, 128))
    assert np.abs(_rgb(rgba)[0, 0].astype(int) - [199, 99, 39]).max() <= 1


def test_palettes_with_transparency(tmp_path: Path) -> None:
    palette = [10, 20, 30, 200, 100, 50, 0, 255, 0]
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette)
    image.info["transparency"] = 0
    image.save(tmp_path / "p.png", transparency=0)
    expected = np.asarray(palette, dtype=np.uint8).reshape(3, 3)[indices]
    np.testing.assert_array_equal(_rgb(tmp_path / "p.png"), expected)
    pa = Image.new("PA", (3, 2))
    pa.putpalette(palette)
    pa.putdata([(int(i), 128) for i in indices.ravel()])
    pa.save(tmp_path / "pa.tif")
    with Image.open(tmp_path / "pa.tif") as check:
        assert check.mode == "PA"
    np.testing.assert_array_equal(_rgb(tmp_path / "pa.tif"), expected)


def test_cmyk_ycbcr_lab_hsv(tmp_path: Path) -> None:
    colours = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    cmyk = Image.new("CMYK", (4, 1))
    cmyk.putdata([(0, 255, 255, 0), (255, 0, 255, 0), (255, 255, 0, 0), (0, 0, 0, 0)])
    cmyk.save(tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(_rgb(tmp_path / "cmyk.tif"), colours)
    Image.fromarray(colours).convert("YCbCr").save(tmp_path / "ycbcr.tif")
    assert np.abs(_rgb(tmp_path / "ycbcr.tif").astype(int) - colours).max() <= 3
    lab = Image.new("LAB", (2, 1))
    lab.putdata([(255, 128, 128), (0, 128, 128)])  # white, black
    lab.save(tmp_path / "lab.tif")
    assert np.abs(_rgb(tmp_path / "lab.tif").astype(int) - [[[255] * 3, [0] * 3]]).max() <= 3
    hsv = Image.new("HSV", (4, 1))
    hues = [0.0, 1 / 3, 2 / 3]
    hsv.putdata([(round(h * 255), 255, 255) for h in hues] + [(0, 0, 255)])
    expected = [
        [round(c * 255) for c in colorsys.hsv_to_rgb(round(h * 255) / 255, 1, 1)] for h in hues
    ]
    assert np.abs(_rgb(hsv).astype(int) - [[*expected, [255, 255, 255]]]).max() <= 3


def test_tiff_paths_load_though_folders_skip_them(tmp_path: Path) -> None:
    _16_bit("I;16").save(tmp_path / "scan.tiff")
    assert _rgb(tmp_path / "scan.tiff")[-1, -1, 0] == 255


def test_an_unconvertible_mode_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "odd.png"
    Image.new("L", (4, 4)).save(path)
    real_convert = Image.Image.convert

    def refuse(self: Image.Image, mode: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if mode == "RGB":
            raise ValueError(f"conversion from {self.mode} to RGB not supported")
        return real_convert(self, mode, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", refuse)
    with pytest.raises(ImageLoadError, match=r"odd\.png.*mode 'L'"):
        load_image(path)
    with pytest.raises(ImageLoadError, match=r"mode 'L'"):
        to_rgb(Image.new("L", (1, 1)))


def test_a_decompression_bomb_is_an_image_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageLoadError, match=r"huge\.png"):
        load_image(path)
