"""The settings of the MOTChallenge adapter, typed, as recipes and commands give them by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from siamreid.errors import ConfigError

__all__ = ["MOTOptions", "MOTSplit"]

MOTSplit = Literal["seeded", "folders"]
"""How sequences go to train and test: by the seeded rule, or by the download's folders."""


@dataclass(frozen=True)
class MOTOptions:
    """The settings of :class:`~siamreid.data.MOTChallenge` a recipe or a command gives by name.

    A recipe's ``data.options`` (``{frame_step: 10, test_sequences: [MOT17-09]}``) and
    ``siamreid data check --option frame_step=10`` are read into this class; every field means
    what :class:`~siamreid.data.MOTChallenge`'s argument of the same name means.

    Attributes:
        classes: MOT classes to keep.
        min_visibility: Least visibility of a kept box, in ``[0, 1]``.
        min_height: Least height in pixels of a kept crop.
        frame_step: Keep every ``frame_step``-th frame.
        test_sequences: Names of the test sequences; ``None``: as ``split`` says.
        test_fraction: Share of sequences the seeded rule puts in test.
        query_window: Frames per window (pseudo-camera) of a test sequence.
        min_gap: Least distance in frames between a query and its matches.
        split: ``"seeded"``: sequences go to train or test by the seeded rule. ``"folders"``:
            by the download's own folders (``train/`` to train; ``val/`` and ``test/`` to test).

    Raises:
        ConfigError: A field has the wrong type or is out of range (the message names it).

    Example:
        >>> MOTOptions.from_mapping({"frame_step": 10}).frame_step
        10
    """

    classes: tuple[int, ...] = (1,)
    min_visibility: float = 0.3
    min_height: int = 50
    frame_step: int = 5
    test_sequences: tuple[str, ...] | None = None
    test_fraction: float = 0.5
    query_window: int = 20
    min_gap: int = 5
    split: MOTSplit = "seeded"

    def __post_init__(self) -> None:
        for name, (bad, expected) in self._problems().items():
            if bad:
                value = getattr(self, name)
                raise ConfigError(f"MOTChallenge: {name} is {value!r}; expected {expected}.")
        if self.split == "folders" and self.test_sequences is not None:
            raise ConfigError(
                "MOTChallenge: give test_sequences or split='folders', not both (the folders "
                "already say which sequences are tested)."
            )

    def _problems(self) -> dict[str, tuple[bool, str]]:
        def integer(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def number(v: Any) -> bool:
            return integer(v) or isinstance(v, float)

        classes, names = self.classes, self.test_sequences
        return {
            "classes": (
                not isinstance(classes, tuple)
                or not classes
                or not all(integer(c) and c >= 1 for c in classes),
                "a non-empty list of class numbers >= 1",
            ),
            "min_visibility": (
                not number(self.min_visibility) or not 0 <= self.min_visibility <= 1,
                "a number in [0, 1]",
            ),
            "min_height": (not integer(self.min_height) or self.min_height < 1, "an integer >= 1"),
            "frame_step": (not integer(self.frame_step) or self.frame_step < 1, "an integer >= 1"),
            "test_sequences": (
                names is not None
                and (not isinstance(names, tuple) or not all(isinstance(n, str) for n in names)),
                "a list of sequence names or null",
            ),
            "test_fraction": (
                not number(self.test_fraction) or not 0 < self.test_fraction < 1,
                "a number in (0, 1)",
            ),
            "min_gap": (not integer(self.min_gap) or self.min_gap < 1, "an integer >= 1"),
            "query_window": (
                not integer(self.query_window)
                or (integer(self.min_gap) and self.query_window < 2 * self.min_gap),
                f"an integer >= 2 * min_gap = {2 * self.min_gap}",
            ),
            "split": (self.split not in get_args(MOTSplit), "'seeded' or 'folders'"),
        }

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], where: str = "options") -> MOTOptions:
        """The options a mapping names (lists become tuples); unknown keys are refused.

        Raises:
            ConfigError: ``options`` is not a mapping, names a key that is no field (the
                valid ones are listed), or a value is wrong.
        """
        fields = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(options, Mapping):
            raise ConfigError(f"{where} must be a mapping of {', '.join(fields)}; got {options!r}.")
        unknown = sorted(str(k) for k in set(options) - set(fields))
        if unknown:
            raise ConfigError(
                f"Unknown MOTChallenge option(s) {unknown} in {where}. Valid options: "
                f"{', '.join(fields)}."
            )
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in options.items()
        }
        return cls(**values)
