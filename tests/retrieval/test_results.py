"""Search results: shape checks, and the columns gathered for found and missing neighbours."""

from __future__ import annotations

import math

import pytest
import torch

from siamreid.retrieval.gallery import Gallery
from siamreid.retrieval.results import SearchResult, gather_result


def test_search_result_checks_its_shapes() -> None:
    with pytest.raises(ValueError, match=r"SearchResult.ids has shape \(2, 2\), not \(2, 3\)"):
        SearchResult(torch.zeros(2, 3), torch.zeros(2, 2).long(), torch.zeros(2, 3).long())


def test_gathered_columns_follow_the_rows_and_mark_missing_slots() -> None:
    gallery = Gallery(2)
    gallery.append(torch.zeros(3, 2), [10, 11, 12], [1, 2, 3], ["a.jpg", "b.jpg", "c.jpg"])
    indices = torch.tensor([[2, 0], [1, -1]])
    distances = torch.tensor([[0.5, 1.0], [0.25, math.inf]], dtype=torch.float64)
    result = gather_result(gallery, distances, indices)
    assert result.ids.tolist() == [[12, 10], [11, -1]]
    assert result.camids is not None
    assert result.camids.tolist() == [[3, 1], [2, -1]]
    assert result.paths == [["c.jpg", "a.jpg"], ["b.jpg", ""]]
    assert result.distances.dtype == torch.float32
    assert (len(result), result.k) == (2, 2)
