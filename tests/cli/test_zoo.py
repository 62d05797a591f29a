"""``siamreid zoo`` and ``zoo:NAME`` sources, without the network: a local file in the hub cache
is used, a wrong hash is refused, and offline the error says which URL to save where."""

from __future__ import annotations

import dataclasses
import urllib.error
from pathlib import Path

import pytest
import torch
from cli_runner import Runner

from siamreid.errors import CheckpointError, InputError
from siamreid.models import SiameseEmbedder, zoo

NAME = "osnet_x0_25_msmt17"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache, and a downloader that fails as offline machines do."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))

    def offline(url: str, dst: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub" / "checkpoints"


def _boxmot_file(path: Path) -> Path:
    """A random-weights OSNet x0.25 in BoxMOT's layout (bare state dict, 1041 MSMT17 classes)."""
    import timm

    torch.manual_seed(0)
    model = timm.create_model("osnet_x0_25", num_classes=1041)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def test_offline_names_the_url_and_the_exact_path(hub: Path, cli: Runner) -> None:
    result = cli("convert", f"zoo:{NAME}", "--out", hub.parent / "out")
    entry = zoo.zoo_entry(NAME)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert f"download {entry.url} and save it as {hub / f'{NAME}.pt'}" in result.err
    assert "Temporary failure in name resolution" in result.err


def test_a_local_file_in_the_cache_is_used(hub: Path, cli: Runner) -> None:
    _boxmot_file(hub / f"{NAME}.pt")
    model = SiameseEmbedder.from_pretrained(f"zoo:{NAME}")
    assert model.config.backbone == "osnet_x0_25"
    assert model.config.num_classes == 1041
    assert model.config.input_size == (256, 128)
    listing = cli("zoo", "list")
    row = next(line for line in listing.out.splitlines() if line.startswith(NAME + " "))
    assert " yes " in row
    assert "MSMT17" in row
    assert zoo.zoo_entry(NAME).url in row


def test_a_wrong_hash_is_refused(hub: Path) -> None:
    path = _boxmot_file(hub / f"{NAME}.pt")
    entry = dataclasses.replace(zoo.zoo_entry(NAME), sha256="0" * 64)
    with pytest.raises(CheckpointError, match=r"its sha256 is .* the published one is 0000"):
        zoo.zoo_file(entry)
    assert path.is_file()  # a user's file is never deleted


def test_a_download_is_checked_and_kept(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _boxmot_file(hub.parent / "served.pt")
    calls = []

    def download(url: str, dst: str, *args: object, **kwargs: object) -> None:
        calls.append(url)
        Path(dst).write_bytes(source.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    entry = zoo.zoo_entry(NAME)
    assert zoo.zoo_file(entry) == hub / f"{NAME}.pt"
    assert zoo.zoo_file(entry) == hub / f"{NAME}.pt"
    assert len(calls) == 1  # downloaded once
    assert calls[0].startswith(entry.url)


def test_a_web_page_instead_of_the_file_is_removed(
    hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def quota_page(url: str, dst: str, *args: object, **kwargs: object) -> None:
        Path(dst).write_text("<!DOCTYPE html><html>Quota exceeded</html>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", quota_page)
    with pytest.raises(CheckpointError, match="sent a web page instead of the file"):
        zoo.zoo_file(zoo.zoo_entry(NAME))
    assert not (hub / f"{NAME}.pt").exists()


def test_unknown_names_suggest_close_ones(cli: Runner) -> None:
    with pytest.raises(InputError, match="Did you mean osnet_x0_25_msmt17"):
        zoo.zoo_entry("osnet_x025_msmt17")
    result = cli("zoo", "fetch", "osnet_x025_msmt17")
    assert result.code == 2
    assert "siamreid zoo list" in result.err


def test_every_entry_names_an_importable_architecture() -> None:
    from siamreid.models.importers import peer_arch_names

    for entry in zoo.zoo_entries():
        assert entry.arch in peer_arch_names()
        assert entry.sha256 is None  # none is published: never invent one
        assert entry.url.startswith("https://")
