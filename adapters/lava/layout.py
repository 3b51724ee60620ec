"""Where torch's and Lava's array orders meet.

Lava's Conv works on (X, Y, C) = (W, H, C) arrays with (C_out, X, Y, C_in) kernels that it
flips (a true convolution); torch uses (C, H, W) and correlates. Dense stages take flat
vectors in torch's flatten order, so a conv population feeding a dense stage is connected
through ``transpose([2, 1, 0]).flatten()`` (as lava-dl netx does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from leanspike.loihi.stages import Stage


@dataclass(frozen=True)
class StageLayout:
    kind: str
    input_shape: tuple[int, ...]   # Lava order
    output_shape: tuple[int, ...]  # Lava order
    torch_output_shape: tuple[int, ...]

    @classmethod
    def of(cls, stage: Stage) -> StageLayout:
        if stage.kind == "conv":
            c, h, w = stage.input_shape
            oc, oh, ow = stage.output_shape
            return cls("conv", (w, h, c), (ow, oh, oc), tuple(stage.output_shape))
        n_in, n_out = int(np.prod(stage.input_shape)), int(np.prod(stage.output_shape))
        return cls("dense", (n_in,), (n_out,), tuple(stage.output_shape))

    def neurons_to_lava(self, t: torch.Tensor) -> np.ndarray:
        """A per-neuron tensor in torch order (the stage's output shape) as a Lava array."""
        a = t.detach().cpu()
        return (a.permute(2, 1, 0) if self.kind == "conv" else a.reshape(-1)).contiguous().numpy()

    def neurons_from_lava(self, a: np.ndarray) -> torch.Tensor:
        """Lava per-neuron values (any leading dimensions) in torch order."""
        t = torch.from_numpy(np.ascontiguousarray(a))
        lead = t.dim() - len(self.output_shape)
        if self.kind == "conv":
            return t.permute(*range(lead), lead + 2, lead + 1, lead)
        return t.reshape(*t.shape[:lead], *self.torch_output_shape)

    def inputs_to_lava(self, x: torch.Tensor) -> np.ndarray:
        """A batch of stage inputs [N, C, H, W] or [N, ...] as Lava arrays [N, ...]."""
        x = x.detach().cpu()
        if self.kind == "conv":
            if x.dim() == 3:  # a (C, L) signal is the (C, 1, L) image of its 2-D twin
                x = x.unsqueeze(2)
            return x.permute(0, 3, 2, 1).contiguous().numpy()
        return x.reshape(x.shape[0], -1).contiguous().numpy()

    def inputs_from_lava(self, a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.permute(0, 3, 2, 1) if self.kind == "conv" else t


def conv_kernel_to_lava(w: torch.Tensor) -> np.ndarray:
    """torch [O, C, kh, kw] (correlation) -> Lava [O, kw, kh, C] (which Lava flips back)."""
    return w.flip(2, 3).permute(0, 3, 2, 1).contiguous().numpy()


def pair_to_lava(p: tuple[int, int]) -> tuple[int, int]:
    """torch (h, w) geometry -> Lava (x, y)."""
    return int(p[1]), int(p[0])
