"""find_images: one image file or the images below a folder, else an error naming the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.images import find_images, load_image
from siamreid.errors import DatasetLayoutError
from siamreid.models import SiameseEmbedder


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 8)).save(path)
    return path


def test_a_file_is_itself_and_a_folder_its_images_sorted(tmp_path: Path) -> None:
    b = _image(tmp_path / "people" / "2" / "b.png")
    a = _image(tmp_path / "people" / "1" / "a.JPG")
    (tmp_path / "people" / "notes.txt").write_text("not an image", encoding="utf-8")
    assert find_images(a) == [a]
    assert find_images(tmp_path / "people") == [a, b]


def test_what_cannot_be_images_is_refused_naming_the_source(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("x", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetLayoutError, match=r"^QUERY '.*notes\.txt' is not an image \(.*\.jpg"
    ):
        find_images(text, "QUERY")
    with pytest.raises(DatasetLayoutError, match=r"^QUERY '.*nowhere' does not exist"):
        find_images(tmp_path / "nowhere", "QUERY")
    with pytest.raises(DatasetLayoutError, match=r"^GALLERY '.*empty' holds no images"):
        find_images(tmp_path / "empty", "GALLERY")


def _sideways_jpeg(path: Path, orientation: int) -> Image.Image:
    """A JPEG stored turned, with the EXIF tag that says how to show it; returns the upright
    picture a viewer shows (the decoded pixels turned as the tag says)."""
    rng = np.random.default_rng(orientation)
    upright = Image.fromarray(rng.integers(0, 256, (128, 64, 3), dtype=np.uint8))
    turn = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(turn).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as stored:
        assert stored.size == (128, 64)  # stored sideways: wider than tall
        back = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}[orientation]
        return stored.convert("RGB").transpose(back)


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_jpeg_with_an_exif_orientation_loads_upright(tmp_path: Path, orientation: int) -> None:
    shown = _sideways_jpeg(tmp_path / "phone.jpg", orientation)
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded.size == (64, 128)
    np.testing.assert_array_equal(np.asarray(loaded), np.asarray(shown))


def test_a_sideways_jpeg_embeds_as_its_upright_copy(
    tmp_path: Path, tiny_model: SiameseEmbedder
) -> None:
    shown = _sideways_jpeg(tmp_path / "phone.jpg", 6)
    shown.save(tmp_path / "upright.png")  # lossless: the same pixels, no tag
    sideways = tiny_model.embed([tmp_path / "phone.jpg"])
    upright = tiny_model.embed([tmp_path / "upright.png"])
    torch.testing.assert_close(sideways, upright, rtol=0, atol=1e-6)
