"""Integer checks: Python, NumPy and torch integers alike; nothing outside int64 wraps around."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from siamreid._checks import INT64_MAX, INT64_MIN, int64_array, is_int
from siamreid.errors import InputError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, True),
        (np.int64(5), True),
        (np.uint8(5), True),
        (True, False),
        (np.bool_(True), False),
        (5.0, False),
        ("5", False),
        (None, False),
    ],
)
def test_is_int(value: object, expected: bool) -> None:
    assert is_int(value) is expected


@given(st.lists(st.integers(INT64_MIN, INT64_MAX), max_size=8))
def test_every_int64_value_reads_back_from_any_container(values: list[int]) -> None:
    for container in (values, tuple(values), np.array(values, dtype=np.int64)):
        got = int64_array(container, "ids")
        assert got.dtype == np.int64
        assert got.tolist() == values


@given(st.one_of(st.integers(INT64_MAX + 1, 2**70), st.integers(-(2**70), INT64_MIN - 1)))
def test_a_value_outside_int64_is_named_not_wrapped(value: int) -> None:
    with pytest.raises(InputError, match=rf"ids holds {value}, outside the int64 range"):
        int64_array([1, value], "ids")


def test_unsigned_arrays_beyond_int64_are_refused() -> None:
    with pytest.raises(InputError, match="outside the int64 range"):
        int64_array(np.array([2**64 - 1], dtype=np.uint64), "ids")
    assert int64_array(np.array([7], dtype=np.uint64), "ids").tolist() == [7]


def test_tensors_scalars_and_nested_lists() -> None:
    assert int64_array(torch.tensor([3, 4]), "ids").tolist() == [3, 4]
    assert int64_array(np.int32(9), "ids").tolist() == [9]
    assert int64_array([[1, 2], [3, 4]], "ids").shape == (2, 2)


def test_the_result_is_a_copy() -> None:
    source = np.array([1, 2], dtype=np.int64)
    got = int64_array(source, "ids")
    got[0] = 99
    assert source[0] == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, 2.5], "camids must be integers, got 2.5"),
        ([1, True], "camids must be integers, got True"),
        (np.array([1.0]), "camids must be integers, got dtype float64"),
        ("12", "camids must be integers, got '12'"),
        (3.0, "camids must be integers, got 3.0"),
    ],
)
def test_non_integers_are_named(values: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        int64_array(values, "camids")
