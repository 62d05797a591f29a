"""Shell commands in the docs name real sub-commands, options, recipe fields, files, extras."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import shlex
from pathlib import Path

import pytest

from siamreid.cli.main import build_parser
from siamreid.training.recipe import load_recipe

from .markdown_blocks import DOCS, REPO, blocks, pages

EXTRAS = set(importlib.metadata.metadata("siamreid").get_all("Provides-Extra") or [])


def _commands() -> list[tuple[str, list[str]]]:
    """``(page:line, argv)`` of every command in the bash blocks (continuations joined)."""
    found = []
    for page in pages():
        for block in blocks(page, "bash"):
            text = block.code.replace("\\\n", " ")
            for offset, line in enumerate(text.splitlines()):
                argv = shlex.split(line, comments=True)
                if argv:
                    found.append((f"{page}:{block.line + offset}", argv))
    return found


COMMANDS = _commands()


def _check_siamreid(argv: list[str], where: str) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        raise AssertionError(f"{where}: `siamreid {shlex.join(argv)}` does not parse") from exit_
    if args.command == "train":
        load_recipe(REPO / args.config if args.config else None, args.overrides)


def _check_python(argv: list[str], where: str) -> None:
    if argv[1] == "-c":
        tree = ast.parse(argv[2])
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                assert all(hasattr(module, a.name) for a in node.names), where
        return
    if argv[1] == "-m":
        return
    script = REPO / argv[1]
    assert script.is_file(), f"{where}: {argv[1]} does not exist"
    source = script.read_text("utf-8")
    for option in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
        assert f'"{option}"' in source, f"{where}: {argv[1]} has no option {option}"


def _check_pip(argv: list[str], where: str) -> None:
    for arg in argv:
        if arg.startswith("-c"):
            continue
        match = re.fullmatch(r"\.\[([\w,]+)\]", arg)
        if match:
            unknown = set(match[1].split(",")) - EXTRAS
            assert not unknown, f"{where}: unknown extras {unknown}; pyproject has {EXTRAS}"
    if "-c" in argv:
        assert (REPO / argv[argv.index("-c") + 1]).is_file(), where


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_is_real(where: str, argv: list[str]) -> None:
    program = argv[0]
    if program == "siamreid":
        _check_siamreid(argv[1:], where)
    elif program == "torchrun":
        start = argv.index("siamreid") + 1  # torchrun [options] -m siamreid ...
        assert argv[start - 2 : start] == ["-m", "siamreid"], where
        _check_siamreid(argv[start:], where)
    elif program == "python":
        _check_python(argv, where)
    elif program == "pip":
        _check_pip(argv, where)
    elif program == "make":
        makefile = (REPO / "Makefile").read_text("utf-8")
        for target in argv[1:]:
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"{where}: make {target}"


@pytest.mark.parametrize("page", pages())
def test_files_named_in_the_docs_exist(page: str) -> None:
    text = (DOCS / page).read_text("utf-8")
    for name in set(re.findall(r"\b((?:configs|examples)/[\w./-]+\.(?:yaml|py))\b", text)):
        assert (REPO / name).is_file(), f"docs/{page} names {name}, which does not exist"


def test_commands_were_found() -> None:
    programs = {argv[0] for _, argv in COMMANDS}
    assert {"siamreid", "torchrun", "pip", "make"} <= programs
    assert Path(DOCS / "changelog.md").read_text("utf-8").startswith('--8<-- "CHANGELOG.md"')
