"""k-winner-take-all with lateral inhibition: which neurons learn from a sample.

STDP in a convolutional layer only trains the earliest neurons: the first to fire wins (ties:
larger potential), its whole feature map is then excluded (one update per kernel per sample,
the weights being shared), and so is a square of ``radius`` around it in every map, so that
the k winners learn from different parts of the input (Kheradpisheh et al. 2018).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from leanspike.stdp.encoding import NEVER


class Winner(NamedTuple):
    feature: int
    y: int
    x: int
    time: int


def k_winners(times: torch.Tensor, potential: torch.Tensor, k: int, radius: int
              ) -> list[Winner]:
    """Up to ``k`` winners among one sample's spike times [O, H, W] (``potential``: each
    neuron's potential when it fired)."""
    alive = times < NEVER
    o, h, w = times.shape
    winners: list[Winner] = []
    while len(winners) < k and bool(alive.any()):
        t = torch.where(alive, times, NEVER)
        first = t.min()
        score = torch.where(alive & (t == first), potential,
                            torch.full_like(potential, -float("inf")))
        flat = int(score.reshape(-1).argmax())
        f, y, x = flat // (h * w), flat // w % h, flat % w
        winners.append(Winner(f, y, x, int(first)))
        alive[f] = False
        alive[:, max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1] = False
    return winners
