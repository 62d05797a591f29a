"""find_images: one image file or the images below a folder, else an error naming the source."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from siamreid.data.images import find_images
from siamreid.errors import DatasetLayoutError


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
