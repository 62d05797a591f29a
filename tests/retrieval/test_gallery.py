"""The gallery's columns: batched appends read back joined, checked before anything changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from siamreid.errors import InputError
from siamreid.retrieval.gallery import Gallery, int_vector


def _emb(n: int, dim: int = 3, start: float = 0.0) -> torch.Tensor:
    return start + torch.arange(n * dim, dtype=torch.float32).reshape(n, dim)


def _filled() -> Gallery:
    gallery = Gallery(None)
    gallery.append(_emb(2), [10, 11], [0, 1], ["a.jpg", "b.jpg"])
    gallery.append(_emb(3, start=100.0), np.array([12, 10, 13]), (2, 2, 0), ["c", "d", "e"])
    return gallery


def test_an_empty_gallery_has_empty_columns_of_its_width() -> None:
    gallery = Gallery(4)
    assert len(gallery) == 0
    assert gallery.embeddings.shape == (0, 4)
    assert gallery.ids.dtype == torch.int64
    assert gallery.ids.shape == (0,)
    assert gallery.camids is None
    assert gallery.paths is None
    assert Gallery(None).embeddings.shape == (0, 0)


def test_appends_read_back_in_order() -> None:
    gallery = _filled()
    assert len(gallery) == 5
    torch.testing.assert_close(gallery.embeddings, torch.cat([_emb(2), _emb(3, start=100.0)]))
    assert gallery.ids.tolist() == [10, 11, 12, 10, 13]
    assert gallery.ids.dtype == torch.int64
    assert gallery.camids is not None
    assert gallery.camids.tolist() == [0, 1, 2, 2, 0]
    assert gallery.paths == ["a.jpg", "b.jpg", "c", "d", "e"]
    assert gallery.dim == 3


def test_reading_twice_gives_the_same_joined_columns() -> None:
    gallery = _filled()
    first = gallery.embeddings
    assert gallery.embeddings is first  # joined once, on first read
    gallery.append(_emb(1), [14], [1], ["f"])
    assert gallery.ids.tolist() == [10, 11, 12, 10, 13, 14]
    assert len(gallery.embeddings) == 6


def test_a_gallery_without_cameras_or_paths_keeps_none() -> None:
    gallery = Gallery(None)
    gallery.append(_emb(2), [1, 2], None, None)
    gallery.append(_emb(1), [3], None, None)
    assert gallery.camids is None
    assert gallery.paths is None
    assert gallery.ids.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("camids", "paths", "message"),
    [
        (None, ["x"], "have camids; pass camids for these too"),
        ([0], None, "have paths; pass paths for these too"),
    ],
)
def test_a_later_append_must_bring_the_same_columns(
    camids: list[int] | None, paths: list[str] | None, message: str
) -> None:
    gallery = _filled()
    with pytest.raises(InputError, match=f"The gallery's 5 entries {message}"):
        gallery.append(_emb(1), [20], camids, paths)
    assert len(gallery) == 5  # nothing changed
    assert gallery.paths is not None
    assert len(gallery.paths) == 5


def test_columns_the_gallery_never_had_are_refused() -> None:
    gallery = Gallery(None)
    gallery.append(_emb(1), [1], None, None)
    with pytest.raises(InputError, match="have no camids; add these without camids"):
        gallery.append(_emb(1), [2], [0], None)
    with pytest.raises(InputError, match="have no paths"):
        gallery.append(_emb(1), [2], None, ["p"])
    assert gallery.ids.tolist() == [1]


@pytest.mark.parametrize(
    ("ids", "camids", "paths", "message"),
    [
        ([1], [0, 0], ["a", "b"], r"ids must be a 1-D sequence of 2 integers, got shape \(1,\)"),
        ([1, 2], [0], ["a", "b"], "camids must be a 1-D sequence of 2 integers"),
        ([1, 2], [0, 0], ["a"], "paths has 1 entries for 2 embeddings"),
        ([1, -1], [0, 0], ["a", "b"], "ids holds -1, which search results use for an empty"),
        ([1, 2], [-1, 0], ["a", "b"], "camids holds -1"),
        ([1, 2.5], [0, 0], ["a", "b"], "ids"),
        ([[1, 2]], [0, 0], ["a", "b"], "ids must be a 1-D sequence"),
    ],
)
def test_bad_rows_are_refused_before_anything_changes(
    ids: object, camids: object, paths: list[str], message: str
) -> None:
    gallery = _filled()
    with pytest.raises(InputError, match=message):
        gallery.append(_emb(2), ids, camids, paths)
    assert len(gallery) == 5
    assert gallery.paths == ["a.jpg", "b.jpg", "c", "d", "e"]
    assert gallery.camids is not None
    assert len(gallery.camids) == 5


def test_remove_drops_every_row_of_the_ids_and_keeps_columns_aligned() -> None:
    gallery = _filled()
    assert gallery.remove([10, 99]) == 2  # both rows of id 10; 99 is not there
    assert gallery.ids.tolist() == [11, 12, 13]
    assert gallery.camids is not None
    assert gallery.camids.tolist() == [1, 2, 0]
    assert gallery.paths == ["b.jpg", "c", "e"]
    expected = torch.cat([_emb(2)[1:], _emb(3, start=100.0)[[0, 2]]])
    torch.testing.assert_close(gallery.embeddings, expected)


def test_removing_nothing_changes_nothing() -> None:
    gallery = _filled()
    assert gallery.remove(np.array([], dtype=np.int64)) == 0
    assert gallery.remove(42) == 0
    assert gallery.ids.tolist() == [10, 11, 12, 10, 13]


def test_remove_in_a_gallery_without_cameras_or_paths() -> None:
    gallery = Gallery(None)
    gallery.append(_emb(3), [1, 2, 1], None, None)
    assert gallery.remove([1]) == 2
    assert gallery.camids is None
    assert gallery.paths is None
    torch.testing.assert_close(gallery.embeddings, _emb(3)[[1]])


@settings(max_examples=50, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=4), min_size=1, max_size=4),
    drop=st.lists(st.integers(0, 6), max_size=3),
)
def test_remove_equals_a_filter_of_the_appended_rows(
    batches: list[list[int]], drop: list[int]
) -> None:
    gallery = Gallery(None)
    rows: list[tuple[int, str]] = []
    for b, ids in enumerate(batches):
        paths = [f"{b}-{i}" for i in range(len(ids))]
        gallery.append(torch.tensor(ids, dtype=torch.float32)[:, None], ids, ids, paths)
        rows.extend(zip(ids, paths, strict=True))
    kept = [(i, p) for i, p in rows if i not in drop]
    assert gallery.remove(drop) == len(rows) - len(kept)
    assert gallery.ids.tolist() == [i for i, _ in kept]
    assert gallery.paths == [p for _, p in kept]
    assert gallery.embeddings[:, 0].tolist() == [float(i) for i, _ in kept]


def test_int_vector_accepts_python_numpy_and_torch_integers() -> None:
    for values in ([1, 2], (1, 2), np.array([1, 2], dtype=np.int32), torch.tensor([1, 2])):
        got = int_vector(values, "ids", 2)
        assert got.dtype == torch.int64
        assert got.tolist() == [1, 2]
    assert int_vector([5, -1], "ids", None).tolist() == [5, -1]  # -1 only refused when stored


def test_int_vector_refuses_what_would_wrap() -> None:
    with pytest.raises(InputError, match="ids"):
        int_vector([2**64 - 1], "ids", 1)
    with pytest.raises(InputError, match="must be a 1-D sequence of any number of integers"):
        int_vector([[1]], "ids", None)
