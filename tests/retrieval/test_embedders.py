"""Which models fit an index: the Embedder protocol, name, width and weights-digest checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference_knn import FakeEmbedder

from siamreid.errors import ConfigError, IndexFormatError
from siamreid.retrieval import Retriever
from siamreid.retrieval.bundle.storage import IndexMeta
from siamreid.retrieval.embedders import Embedder, check_embedder, weights_digest


def test_an_object_without_embed_is_rejected_as_embedder() -> None:
    with pytest.raises(ConfigError, match=r"embedder str lacks embed\(\)"):
        Retriever("resnet50")  # type: ignore[arg-type]


def test_load_checks_the_embedder_against_the_saved_one(tmp_path: Path) -> None:
    retriever = Retriever(FakeEmbedder())
    retriever.add(torch.randn(4, 6), ids=[0, 1, 2, 3])
    path = retriever.save(tmp_path / "ix")
    assert Retriever.load(path, FakeEmbedder()).embedder is not None
    other = FakeEmbedder()
    other.backbone_name = "resnet50"  # type: ignore[misc]
    with pytest.raises(IndexFormatError, match=r"'fake-colour-stats' \(dimension 6\).*'resnet50'"):
        Retriever.load(path, other)


class DigestEmbedder(FakeEmbedder):
    """A FakeEmbedder that reports a weights digest, as SiameseEmbedder does."""

    def __init__(self, weights_digest: str = "a" * 64) -> None:
        super().__init__()
        self.weights_digest = weights_digest


def meta(digest: str | None) -> IndexMeta:
    return IndexMeta("fake-colour-stats", 6, "euclidean", "torch", "flat", embedder_digest=digest)


def test_weights_digest_is_read_only_when_it_is_a_string() -> None:
    assert weights_digest(DigestEmbedder()) == "a" * 64
    assert weights_digest(FakeEmbedder()) is None
    assert weights_digest(object()) is None


def test_other_weights_are_refused_unless_allowed(tmp_path: Path) -> None:
    model = DigestEmbedder(weights_digest="b" * 64)
    assert isinstance(model, Embedder)
    with pytest.raises(IndexFormatError, match=r"weights aaaaaaaaaaaa.*weights bbbbbbbbbbbb"):
        check_embedder(model, meta("a" * 64), tmp_path, allow_other_model=False)
    check_embedder(model, meta("a" * 64), tmp_path, allow_other_model=True)
    check_embedder(model, meta("b" * 64), tmp_path, allow_other_model=False)
    check_embedder(model, meta(None), tmp_path, allow_other_model=False)  # nothing recorded
    check_embedder(None, meta("a" * 64), tmp_path, allow_other_model=False)


def test_another_width_is_refused(tmp_path: Path) -> None:
    wide = IndexMeta("fake-colour-stats", 7, "euclidean", "torch", "flat")
    with pytest.raises(IndexFormatError, match=r"dimension 7.*dimension 6"):
        check_embedder(FakeEmbedder(), wide, tmp_path, allow_other_model=True)
