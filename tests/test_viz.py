"""Activation maps (torchreid's energy of the last feature map) and the loss/metric figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from siamreid.models import SiameseEmbedder
from siamreid.training.history import EpochRecord, History
from siamreid.viz import (
    _feature_map,
    activation_energy,
    activation_maps,
    plot_activation_maps,
    plot_history,
    plot_losses,
)

plt = pytest.importorskip("matplotlib.pyplot")

SIZE = (64, 32)


def _reference_energy(feats: torch.Tensor) -> np.ndarray:
    """Sum of squares over channels, then min-max per image, with explicit loops."""
    n, c, h, w = feats.shape
    out = np.zeros((n, h, w))
    for i in range(n):
        for y in range(h):
            for x in range(w):
                out[i, y, x] = sum(float(feats[i, k, y, x]) ** 2 for k in range(c))
        low, high = out[i].min(), out[i].max()
        out[i] = (out[i] - low) / max(high - low, 1e-12)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_energy_equals_the_explicit_sum_of_squares(seed: int) -> None:
    feats = torch.randn(3, 5, 4, 3, generator=torch.Generator().manual_seed(seed))
    got = activation_energy(feats, (4, 3)).numpy()
    np.testing.assert_allclose(got, _reference_energy(feats), atol=1e-6)


def test_a_hand_made_map_gives_the_expected_normalised_energy() -> None:
    feats = torch.zeros(1, 2, 2, 3)
    feats[0, :, 0, 2] = torch.tensor([3.0, 4.0])  # energy 25: the hottest spot
    feats[0, 0, 1, 0] = 5.0 / np.sqrt(5.0)  # energy 5
    expected = torch.tensor([[[0.0, 0.0, 1.0], [0.2, 0.0, 0.0]]])
    torch.testing.assert_close(activation_energy(feats, (2, 3)), expected)


def test_energy_is_upsampled_to_the_input_and_keeps_the_hot_region() -> None:
    feats = torch.zeros(2, 4, 4, 2)
    feats[0, :, 0, 0] = 1.0  # top left
    feats[1, :, 3, 1] = 1.0  # bottom right
    maps = activation_energy(feats, SIZE)
    assert maps.shape == (2, *SIZE)
    assert maps.min() == 0.0
    assert maps.max() == 1.0
    top, bottom = maps[:, : SIZE[0] // 4], maps[:, -SIZE[0] // 4 :]
    assert top[0].mean() > bottom[0].mean()
    assert bottom[1].mean() > top[1].mean()


def test_energy_ignores_scale_and_a_constant_map_is_zero() -> None:
    feats = torch.rand(1, 6, 5, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        activation_energy(3.0 * feats, (5, 3)), activation_energy(feats, (5, 3))
    )
    assert torch.count_nonzero(activation_energy(torch.ones(1, 2, 3, 3), (6, 6))) == 0


def test_energy_needs_a_four_dimensional_map() -> None:
    with pytest.raises(ValueError, match=r"\[N, C, h, w\]; got shape \(2, 3\)"):
        activation_energy(torch.zeros(2, 3), SIZE)


@pytest.mark.parametrize("backbone", ["test_efficientnet", "test_vit"])
def test_activation_maps_of_a_cnn_and_a_transformer(backbone: str) -> None:
    torch.manual_seed(0)
    model = SiameseEmbedder(backbone, 16, pretrained=False, input_size=SIZE).train()
    maps = activation_maps(model, torch.randn(2, 3, *SIZE))
    assert maps.shape == (2, *SIZE)
    assert float(maps.min()) == 0.0
    assert float(maps.max()) == pytest.approx(1.0)
    assert model.training  # left as it was


def test_transformer_tokens_drop_the_class_token_and_fill_the_patch_grid() -> None:
    torch.manual_seed(0)
    vit = SiameseEmbedder("test_vit", 16, pretrained=False, input_size=SIZE).eval().backbone
    batch = torch.randn(1, 3, *SIZE)
    grid = _feature_map(vit, batch)
    tokens = vit.forward_features(batch)
    rows, cols = vit.patch_embed.grid_size
    assert grid.shape == (1, tokens.shape[-1], rows, cols)
    torch.testing.assert_close(grid[0, :, 0, 1], tokens[0, vit.num_prefix_tokens + 1])


def test_a_backbone_without_forward_features_is_named() -> None:
    with pytest.raises(ValueError, match="Sequential has no forward_features"):
        _feature_map(nn.Sequential(nn.Identity()), torch.zeros(1, 3, 8, 8))


def _assert_drawn(path: Path, min_size: tuple[int, int]) -> None:
    image = Image.open(path).convert("RGB")
    assert image.size[0] >= min_size[0], image.size
    assert image.size[1] >= min_size[1], image.size
    pixels = np.asarray(image, dtype=np.float32)
    assert pixels.std() > 10.0  # not a blank canvas


def _crops(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 256, (16, 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        paths.append(folder / f"{i:04d}_c1s1_000001_00.jpg")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def test_plot_activation_maps_draws_crops_and_overlays(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SiameseEmbedder("test_efficientnet", 16, pretrained=False, input_size=SIZE)
    out = tmp_path / "actmaps.png"
    fig = plot_activation_maps(model, _crops(tmp_path, 3), out)
    assert fig.axes[0].get_title() == "0000_c1s1_000001_00.jpg"
    assert len(fig.axes) == 6
    plt.close(fig)
    _assert_drawn(out, (200, 300))


def test_plot_activation_maps_checks_alpha(tmp_path: Path) -> None:
    model = SiameseEmbedder("test_efficientnet", 16, pretrained=False, input_size=SIZE)
    with pytest.raises(ValueError, match="alpha must be in"):
        plot_activation_maps(model, _crops(tmp_path, 1), alpha=1.5)


def _history(validated: bool = True) -> History:
    records = []
    for epoch in range(1, 5):
        records.append(
            EpochRecord(
                epoch=epoch,
                train_loss=7.0 - epoch,
                train_terms={"triplet": 1.0 / epoch, "identity": 6.0 - epoch},
                lr=1e-3,
                images_per_second=100.0,
                epoch_seconds=1.0,
                val_loss=1.2 / epoch if validated else None,
                val_terms={"triplet": 1.2 / epoch} if validated else {},
                rank1=0.2 * epoch if validated else None,
                mAP=0.15 * epoch if validated else None,
                mINP=0.1 * epoch if validated else None,
                triplet_accuracy=0.5 + 0.1 * epoch if validated else None,
            )
        )
    return History(records)


def _lines(ax: object) -> dict[str, int]:
    return {line.get_label(): len(line.get_xdata()) for line in ax.get_lines()}  # type: ignore[attr-defined]


def test_losses_compare_each_term_train_with_validation(tmp_path: Path) -> None:
    out = tmp_path / "losses.png"
    fig = plot_losses(_history(), out)
    triplet, identity, metrics = fig.axes
    assert triplet.get_title() == "triplet loss"
    assert _lines(triplet) == {"train": 4, "validation": 4}
    assert identity.get_title() == "identity loss (train only)"
    assert _lines(identity) == {"train": 4}
    assert _lines(metrics) == {"Rank-1": 4, "mAP": 4}
    np.testing.assert_allclose(metrics.get_lines()[0].get_ydata(), [0.2, 0.4, 0.6, 0.8])
    plt.close(fig)
    _assert_drawn(out, (600, 250))


def test_history_adds_mINP_and_triplet_accuracy(tmp_path: Path) -> None:
    fig = plot_history(_history(), tmp_path / "history.png")
    assert set(_lines(fig.axes[-1])) == {"Rank-1", "mAP", "mINP", "triplet accuracy"}
    plt.close(fig)


def test_losses_without_validation_say_so() -> None:
    fig = plot_losses(_history(validated=False))
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        "triplet loss (train only)",
        "identity loss (train only)",
    ]
    assert [t.get_text() for t in fig.axes[-1].texts] == ["not validated"]
    plt.close(fig)


def test_losses_of_a_history_without_terms_draw_the_total() -> None:
    record = EpochRecord(1, 2.0, {}, 1e-3, 1.0, 1.0)
    fig = plot_losses(History([record]))
    assert fig.axes[0].get_title() == "Train loss (weighted sum)"
    plt.close(fig)
