"""Peers' checkpoints load as they are: the same random weights embed as the peer's own model.

The reference models are the peers' own code: BoxMOT's re-id backbones (installed with
``siamreid[all]``; they are torchreid's, key for key) and, where its sdist is unpacked,
torchreid's model files themselves (``SIAMREID_TORCHREID_SRC``: the folder holding its
``osnet.py``; ``pip download --no-deps torchreid`` and unpack it). fast-reid's keys are built
here from a timm ResNet-50, as fast-reid lays them out.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from siamreid.errors import CheckpointError, InputError
from siamreid.models import SiameseEmbedder
from siamreid.models.importers import peer_arch_names, read_peer_checkpoint

SIZE = (64, 32)
CLASSES = 7


def randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm/InstanceNorm statistics and affine weights, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._NormBase):
                if module.running_mean is not None:
                    module.running_mean.copy_(torch.rand(module.num_features, generator=gen) - 0.5)
                    module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
                    module.bias.copy_(torch.rand(module.num_features, generator=gen) - 0.5)
    return model.eval()


def assert_embeds_as(peer: nn.Module, ours: SiameseEmbedder, classes: int = CLASSES) -> None:
    """Our embeddings are the peer's L2-normalised eval features; the classifier is kept."""
    x = torch.randn(3, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = nn.functional.normalize(peer.eval()(x), dim=1)
        got = ours.eval().forward_train(x)
    assert (got.embeddings - expected).abs().max() <= 1e-5
    assert ours.config.num_classes == classes
    assert got.logits is not None
    assert got.logits.shape == (3, classes)


def _boxmot_builder(arch: str) -> Callable[..., nn.Module]:
    pytest.importorskip("boxmot")
    if arch.startswith("osnet"):
        from boxmot.reid.backbones.families.osnet import variants

        return getattr(variants, arch)  # type: ignore[no-any-return]
    from boxmot.reid.backbones import mobilenetv2, resnet

    return {"resnet50": resnet.resnet50, "mobilenetv2_x1_0": mobilenetv2.mobilenetv2_x1_0}[arch]


BOXMOT_ARCHS = [
    "osnet_x1_0",
    "osnet_x0_75",
    "osnet_x0_5",
    "osnet_x0_25",
    "osnet_ibn_x1_0",
    "osnet_ain_x1_0",
    "resnet50",
    "mobilenetv2_x1_0",
]


@pytest.mark.parametrize("arch", BOXMOT_ARCHS)
def test_boxmot_checkpoint_embeds_as_boxmot(arch: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    peer = randomise_norms(_boxmot_builder(arch)(num_classes=CLASSES, pretrained=False))
    path = tmp_path / "weights.pt"  # no architecture in the name: read from the keys
    torch.save(peer.state_dict(), path)
    ours = SiameseEmbedder.from_pretrained(path)
    assert read_peer_checkpoint(path).arch == arch
    assert_embeds_as(peer, ours)
    classifier = peer.state_dict()["classifier.weight"]
    assert ours.head.classifier is not None
    assert torch.equal(ours.head.classifier.weight, classifier)


def test_training_container_and_module_prefixes_are_read(tmp_path: Path) -> None:
    """torchreid's ``model.pth.tar-N``: ``{"state_dict", "epoch", ...}``, DataParallel keys."""
    peer = randomise_norms(_boxmot_builder("osnet_x0_25")(num_classes=CLASSES, pretrained=False))
    state = {f"module.{k}": v for k, v in peer.state_dict().items()}
    path = tmp_path / "model.pth.tar-60"
    torch.save({"state_dict": state, "epoch": 60, "rank1": 0.5, "optimizer": {}}, path)
    assert_embeds_as(peer, SiameseEmbedder.from_pretrained(path))


def test_without_a_classifier_none_is_built(tmp_path: Path) -> None:
    peer = randomise_norms(_boxmot_builder("osnet_x0_25")(num_classes=CLASSES, pretrained=False))
    state = {k: v for k, v in peer.state_dict().items() if not k.startswith("classifier.")}
    torch.save(state, tmp_path / "osnet.pth")
    ours = SiameseEmbedder.from_pretrained(tmp_path / "osnet.pth")
    assert ours.config.num_classes == 0
    assert ours.head.classifier is None


# ------------------------------------------------------------------------- torchreid's own code
def _torchreid_models() -> Path | None:
    folder = os.environ.get("SIAMREID_TORCHREID_SRC")
    if folder and (Path(folder) / "osnet.py").is_file():
        return Path(folder)
    spec = importlib.util.find_spec("torchreid")
    if spec is None or spec.origin is None:
        return None
    for sub in ("reid/models", "models"):
        if (Path(spec.origin).parent / sub / "osnet.py").is_file():
            return Path(spec.origin).parent / sub
    return None


@pytest.fixture(scope="module")
def torchreid_models() -> Callable[[str], ModuleType]:
    """torchreid's model files, imported one by one (they need torch only); skips without them."""
    folder = _torchreid_models()
    if folder is None:
        pytest.skip(
            "torchreid's sources are not here: make pytest fetches them, or set "
            "SIAMREID_TORCHREID_SRC"
        )

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"_torchreid_{name}", folder / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.mark.parametrize(
    ("module", "arch"),
    [
        ("osnet", "osnet_x0_25"),
        ("osnet", "osnet_x1_0"),
        ("osnet", "osnet_ibn_x1_0"),
        ("osnet_ain", "osnet_ain_x1_0"),
        ("resnet", "resnet50"),
        ("mobilenetv2", "mobilenetv2_x1_0"),
    ],
)
def test_torchreid_checkpoint_embeds_as_torchreid(
    torchreid_models: Callable[[str], ModuleType], module: str, arch: str, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    build = getattr(torchreid_models(module), arch)
    peer = randomise_norms(build(num_classes=CLASSES, pretrained=False, loss="softmax"))
    torch.save({"state_dict": peer.state_dict()}, tmp_path / f"{arch}.pth")
    assert_embeds_as(peer, SiameseEmbedder.from_pretrained(tmp_path / f"{arch}.pth"))


# ----------------------------------------------------------------------------------- fast-reid
def fastreid_state(
    classes: int = CLASSES, seed: int = 0
) -> tuple[dict[str, torch.Tensor], nn.Module]:
    """A fast-reid BoT ResNet-50 state dict (random weights) and its backbone as a timm model."""
    import timm

    torch.manual_seed(seed)
    backbone = randomise_norms(timm.create_model("resnet50", num_classes=0), seed)
    backbone.layer4[0].conv2.stride = (1, 1)  # fast-reid's BoT: MODEL.BACKBONE.LAST_STRIDE 1
    backbone.layer4[0].downsample[0].stride = (1, 1)
    neck = randomise_norms(nn.BatchNorm1d(2048), seed + 1)
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state |= {f"heads.bottleneck.0.{k}": v for k, v in neck.state_dict().items()}
    state["heads.weight"] = torch.randn(classes, 2048)
    state["pixel_mean"] = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    state["pixel_std"] = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    return state, nn.Sequential(backbone, neck)


def test_fastreid_bot_maps_backbone_neck_and_classifier(tmp_path: Path) -> None:
    state, reference = fastreid_state()
    torch.save({"model": state, "iteration": 100}, tmp_path / "model_final.pth")
    ours = SiameseEmbedder.from_pretrained(tmp_path / "model_final.pth")
    assert read_peer_checkpoint(tmp_path / "model_final.pth").format == "fast-reid"
    assert ours.config.backbone == "resnet50"
    assert ours.config.last_stride == 1
    assert ours.embedding_dim == 2048
    assert ours.data_config.mean == pytest.approx((0.485, 0.456, 0.406))
    assert torch.equal(ours.head.bn.running_var, state["heads.bottleneck.0.running_var"])
    assert ours.head.classifier is not None
    assert torch.equal(ours.head.classifier.weight, state["heads.weight"])
    x = torch.randn(2, 3, *SIZE)
    with torch.no_grad():  # the BNNeck embedding, after the neck
        expected = nn.functional.normalize(reference.eval()(x), dim=1)
        assert (ours.eval()(x) - expected).abs().max() <= 1e-5
        saved = SiameseEmbedder.from_pretrained(ours.save_pretrained(tmp_path / "model"))
        assert saved.config.last_stride == 1
        assert torch.equal(saved(x), ours(x))


# ------------------------------------------------------------------------------------- refusals
class _RunsCode:
    """Unpickling this calls ``exec``: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_a_pickle_that_runs_code_is_refused_and_not_run(tmp_path: Path) -> None:
    marker, path = tmp_path / "ran.txt", tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="refused: it holds objects other than tensors"):
        SiameseEmbedder.from_pretrained(path)
    assert not marker.exists()
    with path.open("rb") as fh:  # the guard's guard: the payload is live
        torch.load(fh, weights_only=False)
    assert marker.read_text() == "ran"


def test_an_unknown_key_set_names_the_closest_architecture(tmp_path: Path) -> None:
    """torchreid's resnet50_fc512 (an fc block on ResNet-50) is not imported."""
    peer = _boxmot_builder("resnet50")(num_classes=CLASSES, pretrained=False)
    state = dict(peer.state_dict()) | {"fc.0.weight": torch.zeros(512, 2048)}
    torch.save(state, tmp_path / "resnet50_fc512.pt")
    with pytest.raises(CheckpointError) as caught:
        SiameseEmbedder.from_pretrained(tmp_path / "resnet50_fc512.pt")
    message = str(caught.value)
    assert "the closest is 'resnet50'" in message
    assert "unexpected fc.0.weight" in message


def test_missing_keys_are_named(tmp_path: Path) -> None:
    peer = _boxmot_builder("osnet_x0_25")(num_classes=CLASSES, pretrained=False)
    state = {k: v for k, v in peer.state_dict().items() if not k.startswith("conv5.")}
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match=r"closest is 'osnet_x0_25'.*missing conv5\."):
        SiameseEmbedder.from_pretrained(tmp_path / "cut.pt")


def test_arch_names_the_architecture(tmp_path: Path) -> None:
    peer = _boxmot_builder("osnet_x0_25")(num_classes=CLASSES, pretrained=False)
    torch.save(peer.state_dict(), tmp_path / "w.pt")
    assert read_peer_checkpoint(tmp_path / "w.pt", arch="osnet_x0_25").arch == "osnet_x0_25"
    with pytest.raises(CheckpointError, match="closest is 'osnet_x1_0'"):
        read_peer_checkpoint(tmp_path / "w.pt", arch="osnet_x1_0")
    with pytest.raises(InputError, match="arch='osnet_x9' is not an architecture"):
        read_peer_checkpoint(tmp_path / "w.pt", arch="osnet_x9")
    assert "fastreid_bot_r50" in peer_arch_names()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"not a checkpoint", "not a readable PyTorch checkpoint"),
        (None, "holds no state dict"),
    ],
)
def test_files_without_a_state_dict_are_refused(
    tmp_path: Path, content: bytes | None, match: str
) -> None:
    path = tmp_path / "w.pth"
    if content is None:
        torch.save({"epoch": 3}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        SiameseEmbedder.from_pretrained(path)


def test_a_peer_model_saves_and_reloads_as_a_siamreid_model(tmp_path: Path) -> None:
    peer = randomise_norms(_boxmot_builder("osnet_x0_25")(num_classes=CLASSES, pretrained=False))
    torch.save(peer.state_dict(), tmp_path / "osnet_x0_25_msmt17.pt")
    imported = SiameseEmbedder.from_pretrained(tmp_path / "osnet_x0_25_msmt17.pt")
    again = SiameseEmbedder.from_pretrained(imported.save_pretrained(tmp_path / "model"))
    assert again.data_config == imported.data_config
    assert_embeds_as(peer, again)
