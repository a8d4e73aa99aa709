"""Search spaces as plain data: the distributions a hyperopt phase samples from.

A spec names a distribution as a one-key mapping, `learning_rate: {loguniform: [1e-5, 1e-4]}`.
This module parses and checks it without Ray (`xstilts validate` never imports Ray);
`sweep.search.tune_space` turns it into `ray.tune` sample objects.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from trainers.config import OptimConfig

EXAMPLE = "{loguniform: [1e-5, 1e-4]}"
# What each distribution takes, as tune.loguniform, tune.uniform, ... do (randint: high excluded).
ARGUMENTS = {
    "choice": "[value, value, ...]",
    "loguniform": "[low, high]",
    "quniform": "[low, high, q]",
    "randint": "[low, high] (high excluded)",
    "uniform": "[low, high]",
}
ARITY = {"loguniform": 2, "quniform": 3, "randint": 2, "uniform": 2}


@dataclass(frozen=True)
class Distribution:
    """One searched key's distribution: a name of `ARGUMENTS` and its arguments."""

    name: str
    args: tuple

    @classmethod
    def parse(cls, value) -> Distribution:
        """From the spec's `{name: [arguments]}`; a ValueError says what is wrong, in one line."""
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(f"name one distribution, such as {EXAMPLE}")
        ((name, args),) = value.items()
        if name not in ARGUMENTS:
            raise ValueError(f"unknown distribution {name!r}; known: {', '.join(ARGUMENTS)}")
        usage = f"{name} takes {ARGUMENTS[name]}"
        if not isinstance(args, list | tuple) or not args:
            raise ValueError(f"{usage}, got {args!r}")
        args = tuple(args)
        if name == "choice":
            if len(set(map(repr, args))) != len(args):
                raise ValueError(f"choice lists a value twice: {list(args)}")
            return cls(name, args)
        if name != "randint":  # YAML reads 1e-5 (no dot) as a string
            args = tuple(_float(a) if isinstance(a, str) else a for a in args)
        number = int if name == "randint" else int | float
        wrong = len(args) != ARITY[name] or any(
            isinstance(a, bool) or not isinstance(a, number) for a in args
        )
        if wrong:
            raise ValueError(f"{usage}, got {list(args)}")
        low, high = args[:2]
        if low >= high:
            raise ValueError(f"{name}: low {low:g} must be below high {high:g}")
        if name == "loguniform" and low <= 0:
            raise ValueError(f"loguniform: low {low:g} must be above 0 (it samples the logarithm)")
        if name == "quniform" and args[2] <= 0:
            raise ValueError(f"quniform: q {args[2]:g} must be above 0")
        return cls(name, args)

    def extremes(self) -> tuple:
        """The values at its edges, which every task's OptimConfig must accept: a choice's every
        value, and a quantised range's rounded ends (quniform rounds to multiples of q)."""
        if self.name == "choice":
            return self.args
        low, high = self.args[:2]
        if self.name == "quniform":
            q = self.args[2]
            return (round(low / q) * q, round(high / q) * q)
        return (low, high - 1) if self.name == "randint" else (low, high)

    def contains(self, value) -> bool:
        """Whether `value` could have been sampled from it (a point of an earlier run may not)."""
        if self.name == "choice":
            return value in self.args
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        low, high = self.extremes()
        return low <= value <= high and (self.name != "randint" or float(value).is_integer())

    def as_spec(self) -> dict:
        """Back to the spec's plain form, `{name: [arguments]}`."""
        return {self.name: list(self.args)}

    def __str__(self) -> str:
        return f"{self.name}({', '.join(_fmt(a) for a in self.args)})"


def typed_point(point: dict) -> dict:
    """A sampled point with each value in its OptimConfig field's type: hyperopt can hand back
    numpy numbers, or a float for an integer field (quniform's 16.0 for a batch size)."""
    return {key: _typed(OptimConfig.model_fields[key].annotation, v) for key, v in point.items()}


def _typed(annotation, value):
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    kinds = typing.get_args(annotation) or (annotation,)
    if isinstance(value, float) and int in kinds and float not in kinds and value.is_integer():
        return int(value)
    if isinstance(value, int | str) and not isinstance(value, bool) and float in kinds:
        return _float(str(value))  # a choice's 2 for epochs, or YAML's "1e-5"
    return value


def _float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
