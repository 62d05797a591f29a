"""Integer checks shared by the package: Python and NumPy integers alike, and int64 ranges.

Identities, camera ids and gallery ids are stored as int64; a value outside that range would
wrap around silently (``2**64 - 1`` becomes ``-1``, the "not found" marker of a search), so it
is refused here, with the argument's name and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import torch

from siamreid.errors import InputError

__all__ = ["INT64_MAX", "INT64_MIN", "int64_array", "is_int"]

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)


def is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    """Whether ``value`` is an integer: a Python ``int`` or a NumPy integer, never a bool.

    Example:
        >>> is_int(5), is_int(np.int64(5)), is_int(True), is_int(5.0)
        (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def int64_array(values: object, name: str) -> npt.NDArray[np.int64]:
    """``values`` (a sequence, NumPy array, tensor or one integer) as a new int64 NumPy array.

    Raises:
        ValueError: An entry is not an integer, or does not fit int64; the message names
            ``name`` and the first such value.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if is_int(values):
        values = [values]
    if isinstance(values, np.ndarray):
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise InputError(f"{name} must be integers, got dtype {values.dtype}.")
        if values.size and values.dtype.kind == "u" and int(values.max()) > INT64_MAX:
            raise _out_of_range(name, int(values.max()))
        return values.astype(np.int64, copy=True)
    if isinstance(values, Sequence) and not isinstance(values, (str, bytes)):
        flat = list(_flatten(values))
        for value in flat:
            if not is_int(value):
                raise InputError(f"{name} must be integers, got {value!r}.")
            if not INT64_MIN <= int(value) <= INT64_MAX:
                raise _out_of_range(name, int(value))
        return np.asarray(values, dtype=np.int64)
    raise InputError(f"{name} must be integers, got {values!r}.")


def _flatten(values: Sequence[Any]) -> Any:
    for value in values:
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            yield from _flatten(value)
        elif isinstance(value, torch.Tensor):
            yield from value.detach().cpu().reshape(-1).tolist()
        elif isinstance(value, np.ndarray):
            yield from value.ravel().tolist()
        else:
            yield value


def _out_of_range(name: str, value: int) -> InputError:
    return InputError(
        f"{name} holds {value}, outside the int64 range [{INT64_MIN}, {INT64_MAX}] that ids "
        "are stored in; map large ids (e.g. hashes) into that range."
    )
