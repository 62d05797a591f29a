"""One vocabulary: ``--dataset``/``--root`` name an input, ``--out`` an output; old spellings
still parse, with one deprecation line on stderr, and are left out of ``--help``."""

from __future__ import annotations

import pytest

from siamreid.cli.main import build_parser
from siamreid.training.recipe import load_recipe


def _help(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    return capsys.readouterr().out


def test_export_writes_to_out_and_still_takes_onnx(capsys: pytest.CaptureFixture[str]) -> None:
    new = build_parser().parse_args(["export", "--checkpoint", "m", "--out", "a.onnx"])
    assert new.onnx == "a.onnx"
    assert capsys.readouterr().err == ""
    old = build_parser().parse_args(["export", "--checkpoint", "m", "--onnx", "b.onnx"])
    assert old.onnx == "b.onnx"
    assert capsys.readouterr().err == (
        "siamreid: warning: --onnx is deprecated and will be removed; use --out instead.\n"
    )
    text = _help(capsys, "export")
    assert "--out FILE" in text
    assert "--onnx FILE" not in text  # said in the help of --out only
    with pytest.raises(SystemExit):  # still required, under its new name
        build_parser().parse_args(["export", "--checkpoint", "m"])
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_evaluate_names_its_dataset_with_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["evaluate", "--checkpoint", "m", "--data", "mot"])
    assert args.dataset == "mot"
    assert "--data is deprecated" in capsys.readouterr().err
    assert "--data NAME" not in _help(capsys, "evaluate")


@pytest.mark.parametrize(
    "command",
    [("data", "check"), ("evaluate",), ("train",)],
    ids=lambda c: " ".join(c),
)
def test_every_dataset_command_takes_dataset_and_root(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    text = _help(capsys, *command)
    assert "--dataset NAME" in text
    assert "--root DIR" in text


def test_train_dataset_and_root_are_the_recipe_fields(tmp_path: object) -> None:
    args = build_parser().parse_args(
        ["train", "--dataset", "synthetic", "--root", "2024", "trainer.epochs=2"]
    )
    from siamreid.cli.train import _data_overrides

    overrides = [*_data_overrides(args), *args.overrides]
    recipe = load_recipe(None, overrides)
    assert (recipe.data.dataset, recipe.data.root) == ("synthetic", "2024")  # kept a string
    assert recipe.trainer.epochs == 2
