"""Activation maps (torchreid's energy of the last feature map) and the loss/metric figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from siamreid.models import SiameseEmbedder
from siamreid.training.history import EpochRecord, History
from siamreid.viz import (
    MIN_MAP_SIZE,
    _feature_map,
    _stage_map,
    activation_energy,
    activation_maps,
    plot_activation_maps,
    plot_cmc,
    plot_history,
    plot_losses,
    plot_ranked_matches,
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
def test_activation_maps_of_a_cnn_and_a_transformer(
    tiny_model_factory: Callable[..., SiameseEmbedder], backbone: str
) -> None:
    model = tiny_model_factory(backbone).train()
    maps = activation_maps(model, torch.randn(2, 3, *SIZE))
    assert maps.shape == (2, *SIZE)
    assert float(maps.min()) == 0.0
    assert float(maps.max()) == pytest.approx(1.0)
    assert model.training  # left as it was


def test_transformer_tokens_drop_the_class_token_and_fill_the_patch_grid(
    tiny_model_factory: Callable[..., SiameseEmbedder],
) -> None:
    vit = tiny_model_factory("test_vit").eval().backbone
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


def test_plot_activation_maps_draws_crops_and_overlays(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory()
    out = tmp_path / "actmaps.png"
    fig = plot_activation_maps(model, _crops(tmp_path, 3), out)
    assert fig.axes[0].get_title() == "0000_c1s1_000001_00.jpg"
    assert len(fig.axes) == 7  # 3 crops, 3 overlays, the colour bar
    assert "energy" in fig.axes[-1].get_ylabel()
    assert fig.get_suptitle().endswith("upsampled to 64x32")
    plt.close(fig)
    _assert_drawn(out, (200, 300))


def test_plot_activation_maps_checks_alpha(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory()
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


def test_non_finite_values_are_left_out_of_the_curves() -> None:
    records = list(_history())
    records[1] = EpochRecord(
        2,
        float("nan"),
        {"triplet": float("inf"), "identity": 4.0},
        1e-3,
        1.0,
        1.0,
        rank1=float("nan"),
        mAP=0.3,
    )
    fig = plot_losses(History(records))
    triplet, identity, metrics = fig.axes
    assert list(triplet.get_lines()[0].get_xdata()) == [1, 3, 4]  # train, epoch 2 is inf
    assert list(identity.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert _lines(metrics) == {"Rank-1": 3, "mAP": 4}
    plt.close(fig)


def test_cmc_curve_plots_rank_k_against_k(tmp_path: Path) -> None:
    out = tmp_path / "cmc" / "cmc.png"  # the folder is created
    fig = plot_cmc([0.5, 0.75, 0.9, 1.0], out, label="market")
    (line,) = fig.axes[0].get_lines()
    assert line.get_label() == "market"
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.75, 0.9, 1.0])
    assert fig.axes[0].get_xlabel() == "rank k"
    plt.close(fig)
    _assert_drawn(out, (300, 250))


def test_ranked_matches_draw_each_query_then_its_matches_framed_by_correctness(
    tmp_path: Path,
) -> None:
    crops = _crops(tmp_path, 5)
    correct = np.array([[True, False], [False, True]])
    out = tmp_path / "ranked.png"
    fig = plot_ranked_matches(
        crops[:2],
        [crops[2:4], crops[3:5]],
        correct,
        out,
        distances=np.array([[0.1, 0.25], [0.5, 1.0]]),
    )
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["query", "#1 0.10", "#2 0.25"]
    assert [ax.get_title() for ax in axes[1]] == ["query", "#1 0.50", "#2 1.00"]
    assert not axes[0, 0].spines["left"].get_visible()  # the query has no frame
    green, red = (0.10196, 0.59608, 0.31373, 1.0), (0.84314, 0.18824, 0.15294, 1.0)
    for row in range(2):
        for col in range(2):
            colour = axes[row, col + 1].spines["top"].get_edgecolor()
            np.testing.assert_allclose(colour, green if correct[row, col] else red, atol=1e-4)
    image = axes[1, 2].get_images()[0].get_array()
    np.testing.assert_array_equal(image, np.asarray(Image.open(crops[4]).convert("RGB")))
    plt.close(fig)
    _assert_drawn(out, (200, 250))


def test_ranked_matches_without_distances_number_the_ranks(tmp_path: Path) -> None:
    crops = _crops(tmp_path, 2)
    fig = plot_ranked_matches(crops[:1], [crops[1:]], [[True]])
    assert [ax.get_title() for ax in fig.axes] == ["query", "#1"]
    plt.close(fig)


def test_channels_last_feature_maps_are_laid_out_channels_first() -> None:
    class ChannelsLast(nn.Module):
        output_fmt = "NHWC"

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 2, 3, 1)

    batch = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(_feature_map(ChannelsLast(), batch), batch)


def test_feature_lists_use_the_last_stage() -> None:
    class Stages(nn.Module):
        def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [x * 2, x * 3]

    batch = torch.randn(1, 2, 3, 3)
    torch.testing.assert_close(_feature_map(Stages(), batch), batch * 3)


def test_tokens_that_do_not_fill_a_grid_are_refused() -> None:
    class Tokens(nn.Module):
        num_prefix_tokens = 1

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(len(x), 7, 4)  # 6 patch tokens, no grid of that size given

    with pytest.raises(ValueError, match=r"Cannot lay Tokens's features of shape \(1, 7, 4\)"):
        _feature_map(Tokens(), torch.zeros(1, 3, 8, 8))


def test_an_empty_history_draws_empty_panels_without_a_legend() -> None:
    fig = plot_losses(History())
    assert fig.axes[0].get_title() == "Train loss (weighted sum)"
    assert fig.axes[0].get_legend() is None
    assert fig.axes[0].get_lines() == []
    plt.close(fig)


@pytest.mark.parametrize(
    ("backbone", "size", "stage"),
    [
        ("test_resnet", (64, 32), "layer2"),  # layer4 would be 2x1
        ("test_resnet", (256, 128), "layer4"),  # the last stage, as torchreid draws it
        ("test_efficientnet", (64, 32), "blocks.2"),
    ],
)
def test_activation_maps_come_from_the_deepest_stage_of_at_least_8x4(
    tiny_model_factory: Callable[..., SiameseEmbedder],
    backbone: str,
    size: tuple[int, int],
    stage: str,
) -> None:
    model = tiny_model_factory(backbone, input_size=size).eval()
    batch = torch.randn(2, 3, *size)
    feats, name = _stage_map(model.backbone, batch)
    assert name == stage
    assert feats.shape[-2] >= MIN_MAP_SIZE[0]
    assert feats.shape[-1] >= MIN_MAP_SIZE[1]
    stages = model.backbone.forward_intermediates(batch, intermediates_only=True)
    torch.testing.assert_close(
        feats, stages[[f["module"] for f in model.backbone.feature_info].index(stage)]
    )
    maps = activation_maps(model, batch)
    torch.testing.assert_close(maps, activation_energy(feats, size))


def test_a_backbone_whose_maps_are_all_coarse_uses_its_last_and_says_so(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path
) -> None:
    model = tiny_model_factory("test_vit").eval()
    feats, _ = _stage_map(model.backbone, torch.randn(1, 3, *SIZE))
    assert feats.shape[-2] < MIN_MAP_SIZE[0] or feats.shape[-1] < MIN_MAP_SIZE[1]
    fig = plot_activation_maps(model, _crops(tmp_path, 2))
    rows, cols = feats.shape[-2:]
    assert f"({rows}x{cols} positions), upsampled to 64x32" in fig.get_suptitle()
    plt.close(fig)


def test_ranked_matches_carry_a_title_and_each_query_s_person(tmp_path: Path) -> None:
    crops = _crops(tmp_path, 3)
    fig = plot_ranked_matches(
        crops[:1], [crops[1:]], [[True, False]], title="resnet50, epoch 7", query_labels=["id 4 c2"]
    )
    assert fig.get_suptitle() == "resnet50, epoch 7"
    assert fig.axes[0].get_title() == "query\nid 4 c2"
    plt.close(fig)


def test_an_unlabelled_query_gets_neutral_frames_a_labelled_one_green_and_red(
    tmp_path: Path,
) -> None:
    crops = _crops(tmp_path, 3)
    fig = plot_ranked_matches(
        crops[:2], [crops[1:], crops[1:]], [[True, False], [False, False]], labelled=[True, False]
    )
    frames = [ax.spines["top"].get_edgecolor() for ax in fig.axes]
    green, red, grey = (
        (0.10196, 0.59608, 0.31373, 1.0),
        (0.84314, 0.18824, 0.15294, 1.0),
        (
            0.61961,
            0.61961,
            0.61961,
            1.0,
        ),
    )
    for got, expected in zip(
        [frames[1], frames[2], frames[4], frames[5]], [green, red, grey, grey], strict=True
    ):
        np.testing.assert_allclose(got, expected, atol=1e-4)
    plt.close(fig)


def test_a_full_ranked_grid_of_noisy_photos_stays_under_500_kb(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    crops = []
    for i in range(66):  # 6 queries and their top 10, photo-like: smooth colours plus noise
        smooth = Image.fromarray(rng.integers(0, 256, (8, 4, 3), dtype=np.uint8)).resize(
            (64, 128), Image.Resampling.BILINEAR
        )
        noisy = np.asarray(smooth, dtype=np.float32) + rng.normal(0, 20, (128, 64, 3))
        crops.append(tmp_path / f"{i}.jpg")
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(crops[-1], quality=95)
    out = tmp_path / "ranked.png"
    fig = plot_ranked_matches(
        crops[:6],
        [crops[6 + 10 * r : 16 + 10 * r] for r in range(6)],
        np.eye(6, 10, dtype=bool),
        out,
        distances=np.ones((6, 10)),
        title="test_resnet, epoch 3, market1501 test set: mAP 0.084",
        query_labels=[f"id {r} c1" for r in range(6)],
    )
    plt.close(fig)
    assert out.stat().st_size < 500_000
    _assert_drawn(out, (800, 900))
