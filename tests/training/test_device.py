"""The one device choice: explicit names, CUDA then MPS then CPU, errors naming the setting."""

from __future__ import annotations

import os

import pytest
import torch

from siamreid.errors import ConfigError
from siamreid.training.device import autocast, default_num_workers, select_device


def _machine(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool, cores: int = 4) -> None:
    """Pretend this machine has (or lacks) CUDA and MPS, and ``cores`` usable cores."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, torch.device("cuda", 1)),  # CUDA first, on the current device
        (False, True, torch.device("mps")),
        (False, False, torch.device("cpu")),
    ],
)
def test_unset_picks_cuda_then_mps_then_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: torch.device
) -> None:
    _machine(monkeypatch, cuda=cuda, mps=mps)
    assert select_device() == expected
    assert select_device(None) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("cpu", torch.device("cpu")),
        ("cuda:1", torch.device("cuda", 1)),
        ("mps", torch.device("mps")),
    ],
)
def test_an_available_device_is_taken_as_named(
    monkeypatch: pytest.MonkeyPatch, requested: str, expected: torch.device
) -> None:
    _machine(monkeypatch, cuda=True, mps=True)
    assert select_device(requested) == expected


def test_cpu_is_always_available(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, mps=True)
    assert select_device("cpu") == torch.device("cpu")  # even where an accelerator is present


@pytest.mark.parametrize("requested", ["cuda", "cuda:0", "mps"])
def test_a_missing_device_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, requested: str
) -> None:
    _machine(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ConfigError, match=rf"RuntimeConfig\.device is '{requested}' but this "):
        select_device(requested)
    with pytest.raises(ConfigError, match=rf"^--device is '{requested}' but .*Leave it unset"):
        select_device(requested, what="--device")


def test_mps_is_refused_where_only_cuda_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, mps=False)
    with pytest.raises(ConfigError, match="has no such device"):
        select_device("mps")


@pytest.mark.parametrize("requested", ["gpu", "cuda:x", ""])
def test_a_name_that_is_no_device_is_refused_with_the_choices(requested: str) -> None:
    with pytest.raises(ConfigError, match=r"--device is .* not a device name; use cpu, cuda"):
        select_device(requested, what="--device")


def test_a_device_type_torch_knows_but_siamreid_does_not_use_is_refused() -> None:
    with pytest.raises(ConfigError, match="'meta' but this machine has no such device"):
        select_device("meta")


@pytest.mark.parametrize(
    ("device", "cores", "expected"),
    [
        ("cpu", 1, 0),
        ("cpu", 2, 0),  # workers would compete with the model for the two cores
        ("cpu", 3, 2),
        ("cpu", 16, 8),  # at most 8
        ("cuda", 1, 1),  # an accelerator always gets a loader process
        ("cuda", 2, 1),
        ("cuda", 5, 4),
    ],
)
def test_default_num_workers(
    monkeypatch: pytest.MonkeyPatch, device: str, cores: int, expected: int
) -> None:
    _machine(monkeypatch, cuda=True, mps=False, cores=cores)
    assert default_num_workers(torch.device(device)) == expected


def test_default_num_workers_without_affinity_counts_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert default_num_workers(torch.device("cpu")) == 5
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one core
    assert default_num_workers(torch.device("cpu")) == 0


def test_fp32_disables_autocast() -> None:
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_autocasts_matmuls_on_the_device(precision: str) -> None:
    expected = torch.bfloat16 if precision == "bf16" else torch.float16
    context = autocast(torch.device("cpu"), precision)
    assert isinstance(context, torch.autocast)
    assert context.fast_dtype == expected
    assert context.device == "cpu"
    with context:
        assert torch.is_autocast_enabled("cpu")
    assert not torch.is_autocast_enabled("cpu")
