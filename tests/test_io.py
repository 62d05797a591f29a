"""The one atomic writer: the old file stays whole until the new one is complete and checked;
an output that cannot be written is refused before the work, naming it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from siamreid._io import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_stream,
    check_output,
)
from siamreid.errors import ExportError, InputError


def test_a_failed_check_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")

    def reject(tmp: Path) -> None:
        assert tmp.read_bytes() == b"new"
        raise ExportError("not what was asked for")

    with pytest.raises(ExportError, match="not what was asked for"):
        atomic_write(target, lambda tmp: tmp.write_bytes(b"new"), check=reject)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_a_full_disk_names_the_file_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "e.npz"
    target.write_bytes(b"old")

    def full(fh: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(
        OSError,
        match=r"Cannot write '.*e\.npz': No space left on device; the "
        r"file there is unchanged\. Free some disk space",
    ) as info:
        atomic_write_stream(target, full)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npz"]


def test_the_temporary_file_keeps_the_suffix_and_the_folder_is_made(tmp_path: Path) -> None:
    names: list[str] = []
    target = tmp_path / "new" / "ranked.png"
    atomic_write(target, lambda tmp: names.append(tmp.name) or tmp.write_bytes(b"png"))
    assert names[0].startswith(".ranked.png.tmp-")
    assert names[0].endswith(".png")
    assert target.read_bytes() == b"png"


def test_bytes_and_stream_forms_write_the_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"abc", durable=False)
    atomic_write_stream(tmp_path / "b.bin", lambda fh: fh.write(b"def"))
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert (tmp_path / "b.bin").read_bytes() == b"def"


def test_check_output_accepts_new_and_existing_files(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{}", encoding="utf-8")
    assert check_output(tmp_path / "old.json", what="--json") == tmp_path / "old.json"
    assert check_output(tmp_path / "a" / "b" / "new.npz", what="--out").name == "new.npz"
    assert not (tmp_path / "a").exists()  # nothing made, nothing left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]


def test_check_output_refuses_a_folder_for_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^--json '.*' is a folder; pass a file name"):
        check_output(tmp_path, what="--json")


def test_check_output_refuses_a_file_for_a_folder(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"^--out '.*index' is a file, not a folder"):
        check_output(tmp_path / "index", what="--out", folder=True)


def test_check_output_refuses_a_path_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"'.*notes\.txt' is a file, not a folder"):
        check_output(tmp_path / "notes.txt" / "sub" / "e.npz", what="--out")


def test_check_output_refuses_a_device(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="is not a regular file"):
        check_output(os.devnull, what="ONNX path", error=ExportError)
