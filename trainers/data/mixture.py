"""The batch stream of a multi-task mixture: each micro-batch comes whole from one member,
drawn by the sampler's probabilities.

Unlike a single task's stream (a pure function of the step), a mixture's position is state:
which members were drawn so far and how far each member's own stream has got. That state
(the RNG and the per-member positions) is saved with every checkpoint and restored on resume,
so a resumed trial draws exactly the batches an uninterrupted one would have drawn.
Every rank draws from the same RNG, so all ranks train the same member (the same head) in each
micro-batch: ZeRO-3 gathers a head's parameters collectively.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

# The aggregate dev metric of a mixture trial (ASHA's and model selection's).
MIXTURE_METRIC = "mixture_score"


class MixtureStream:
    def __init__(
        self, streams: dict[str, Any], probabilities: dict[str, float], seed: int, grad_accum: int
    ):
        if set(streams) != set(probabilities):
            raise ValueError(
                f"streams {sorted(streams)} and probabilities {sorted(probabilities)} differ"
            )
        self.streams = streams
        self.keys = sorted(streams)
        self.weights = [probabilities[k] for k in self.keys]
        self.probabilities = dict(probabilities)
        self.seed = seed
        self.grad_accum = grad_accum
        self._rng = random.Random(f"xstilts-mixture:{seed}")
        self._positions = dict.fromkeys(self.keys, 0)
        self._drawn = 0

    def state_dict(self) -> dict:
        version, internal, gauss = self._rng.getstate()
        return {
            "rng": [version, list(internal), gauss],
            "positions": dict(self._positions),
            "drawn": self._drawn,
        }

    def load_state_dict(self, state: dict) -> None:
        if set(state["positions"]) != set(self.keys):
            raise ValueError(
                f"sampler state has members {sorted(state['positions'])}, this mixture {self.keys}"
            )
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))
        self._positions = dict(state["positions"])
        self._drawn = int(state["drawn"])

    def draw(self) -> str:
        """The next member (advances the RNG, not the member's stream)."""
        return self._rng.choices(self.keys, self.weights)[0]

    def batches_from(self, step: int) -> Iterator[tuple[str, dict]]:
        """(member, micro-batch) pairs from optimizer step `step` on; the state must be there."""
        if self._drawn != step * self.grad_accum:
            raise RuntimeError(
                f"the mixture's sampler state is at micro-batch {self._drawn}, not at step {step} "
                f"(micro-batch {step * self.grad_accum}): restore its state with the checkpoint"
            )
        running: dict[str, Iterator[dict]] = {}
        while True:
            key = self.draw()
            if key not in running:
                running[key] = self.streams[key].micro_batches(self._positions[key])
            batch = next(running[key])
            self._positions[key] += 1
            self._drawn += 1
            yield key, batch
