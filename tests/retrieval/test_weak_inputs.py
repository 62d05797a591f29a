"""Inputs that would give a confident wrong answer are refused: all-zero rows under cosine."""

from __future__ import annotations

import pytest
import torch

from siamreid.errors import InputError
from siamreid.retrieval import Retriever


def test_all_zero_gallery_rows_are_refused_for_cosine_naming_the_rows() -> None:
    emb = torch.randn(6, 4)
    emb[[1, 4]] = 0.0
    retriever = Retriever(metric="cosine")
    with pytest.raises(InputError, match=r"items rows \[1, 4\] \(2 of 6\) are all-zero"):
        retriever.add(emb, ids=range(6))
    assert len(retriever) == 0  # nothing was added


def test_an_all_zero_query_is_refused_for_cosine() -> None:
    retriever = Retriever(metric="cosine")
    retriever.add(torch.randn(3, 4), ids=[1, 2, 3])
    with pytest.raises(InputError, match=r"queries rows \[0\].*metric='cosine'"):
        retriever.search(torch.zeros(1, 4), k=1)


def test_zero_rows_are_fine_for_euclidean() -> None:
    retriever = Retriever()
    retriever.add(torch.zeros(2, 4), ids=[1, 2])
    assert retriever.search(torch.zeros(1, 4), k=1).distances.item() == 0.0
