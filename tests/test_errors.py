"""One hierarchy: every siamreid error is a SiamreidError and the builtin callers already catch."""

from __future__ import annotations

import pytest

import siamreid.errors as errors

BUILTIN = {
    "InputError": ValueError,
    "DatasetLayoutError": ValueError,
    "ImageLoadError": OSError,
    "BackboneError": ValueError,
    "PretrainedWeightsError": RuntimeError,
    "ConfigError": ValueError,
    "CheckpointError": RuntimeError,
    "NonFiniteLossError": FloatingPointError,
    "IndexFormatError": ValueError,
    "ExportError": RuntimeError,
    "RunFolderError": FileExistsError,
    "VectorStoreError": RuntimeError,
}


def test_every_public_error_is_listed_here() -> None:
    assert set(errors.__all__) == {"SiamreidError", *BUILTIN}


@pytest.mark.parametrize(("name", "builtin"), sorted(BUILTIN.items()))
def test_each_error_is_caught_as_siamreid_error_and_as_its_builtin(
    name: str, builtin: type[Exception]
) -> None:
    cls = getattr(errors, name)
    for caught in (errors.SiamreidError, builtin):
        with pytest.raises(caught, match="the message"):
            raise cls("the message")


def test_the_root_is_no_builtin_subclass_of_its_own() -> None:
    assert errors.SiamreidError.__bases__ == (Exception,)
