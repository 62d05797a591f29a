"""SiameseEmbedder: shared weights, every input kind, flip averaging, eval-mode handling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.errors import BackboneError, ImageLoadError
from siamreid.models import SiameseEmbedder


@pytest.fixture(scope="module")
def model(tiny_model_factory: Callable[..., SiameseEmbedder]) -> SiameseEmbedder:
    """A module's own model: these tests switch it between train and eval mode."""
    return tiny_model_factory()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        path = folder / f"{i}.png"  # lossless, so arrays and files decode identically
        Image.fromarray(rng.integers(0, 255, (70, 30, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_triplet_forward_shares_weights(model: SiameseEmbedder) -> None:
    model.eval()
    x = torch.randn(6, 3, 64, 32)
    a, p, n = model(x[:2], x[2:4], x[4:])
    torch.testing.assert_close(torch.cat([a, p, n]), model(x))
    assert a.shape == (2, 16)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))


def test_every_input_kind_gives_the_same_embedding(
    model: SiameseEmbedder, images: list[Path]
) -> None:
    from_paths = model.embed(images, batch_size=2)
    from_str = model.embed([str(p) for p in images])
    pils = [Image.open(p) for p in images]
    from_pil = model.embed(pils)
    from_arrays = model.embed([np.asarray(im.convert("RGB")) for im in pils])
    from_tensor = model.embed(model.preprocess(images))
    for other in (from_str, from_pil, from_arrays, from_tensor):
        torch.testing.assert_close(other, from_paths)
    torch.testing.assert_close(model.embed(images[0]), from_paths[:1])
    assert from_paths.dtype == torch.float32
    assert from_paths.shape == (5, 16)


def test_flip_averages_mirrored_views(model: SiameseEmbedder) -> None:
    x = torch.randn(3, 3, 64, 32)
    flipped = model.embed(x, flip=True)
    torch.testing.assert_close(flipped, model.embed(x.flip(-1), flip=True), atol=1e-5, rtol=0)
    assert not torch.allclose(flipped, model.embed(x), atol=1e-4)


def test_embed_restores_training_mode(model: SiameseEmbedder) -> None:
    model.train()
    model.embed(torch.randn(2, 3, 64, 32))
    assert model.training
    model.eval()


def test_bad_inputs(model: SiameseEmbedder, tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match=r"missing\.jpg"):
        model.embed([tmp_path / "missing.jpg"])
    with pytest.raises(ImageLoadError, match="uint8"):
        model.embed(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(BackboneError, match="Did you mean"):
        SiameseEmbedder("resnet181", pretrained=False)


def test_classifier_logits_for_id_loss() -> None:
    net = SiameseEmbedder("test_efficientnet", 8, pretrained=False, num_classes=5)
    out = net.forward_train(torch.randn(4, 3, 64, 32))
    assert out.logits is not None
    assert out.logits.shape == (4, 5)
    assert out.features.shape == (4, 8)
