"""A spec as neuromorphic hardware sees it: one synapse + neuron stage per weighted layer.

Loihi-style back-ends (and Lava's Dense/Sparse/Conv processes) have no pooling or flatten and
no spike amplitude: a spike is a 1. So each weighted layer absorbs what comes before it:

- the previous LIF layer's ``amplitude`` multiplies this layer's weights (W * (a s) = (W a) s);
- an ``AvgPool2d`` before a ``Conv2d`` becomes part of the convolution when the pool tiles its
  input (kernel == stride, sizes divisible): kernel (K-1)s + s, stride S s, padding P s;
- anything else before a layer (pool + flatten before a ``Linear``, an irregular pool before a
  conv) is folded into a dense matrix, computed by pushing the identity through the ops.

All folding is exact in real arithmetic; weights are kept in float64 so that it adds no
rounding worth the name. ``leanspike.loihi.emulate`` runs stages and is tested equal to
``leanspike.reference.simulate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leanspike import spec as S
from leanspike.errors import SpecError

# Materialising a dense matrix beyond this many entries is refused with a clear error.
MAX_DENSE_ENTRIES = 64_000_000


@dataclass(eq=False)
class Stage:
    """Synapses (dense or conv) and the neurons they drive.

    Per-neuron tensors (``threshold``, ``bias``, ``v_init``) have the stage's output shape in
    torch order: (C, H, W) for conv stages, (N,) for dense ones.
    """

    layer_index: int               # index of the weighted layer in the spec
    kind: str                      # "dense" or "conv"
    input_shape: tuple[int, ...]   # what the synapses receive: (C, H, W) or (F,)
    output_shape: tuple[int, ...]
    weight: torch.Tensor           # float64; [out, in] or [out, in, kh, kw]
    mask: torch.Tensor | None      # bool, same shape as weight; None = all synapses live
    stride: tuple[int, int]
    padding: tuple[int, int]
    bias: torch.Tensor             # float64, output shape (zeros when the layer has none)
    spiking: bool                  # False for the integrating output stage
    threshold: torch.Tensor | None  # float64, output shape; None when not spiking
    leak: float
    reset: str
    v_init: torch.Tensor           # float64, output shape

    @property
    def fan_in(self) -> int:
        return math.prod(self.weight.shape[1:])

    def live_synapses(self) -> int:
        """Stored synapses that can carry a spike (mask and zero weights excluded)."""
        live = self.weight != 0
        if self.mask is not None:
            live &= self.mask
        return int(live.sum())

    def effective_weight(self) -> torch.Tensor:
        return self.weight if self.mask is None else self.weight * self.mask

    def synapse(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """The stage's synaptic current for a batch of inputs (no bias)."""
        w = self.effective_weight() if weight is None else weight
        w = w.to(x.dtype)
        if self.kind == "dense":
            return (x.flatten(1) @ w.t()).reshape(x.shape[0], *self.output_shape)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding)


def _per_neuron(value, shape: tuple[int, ...]) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return t.detach().to(torch.float64).expand(shape).clone()


def _pool_tiles(pool: S.AvgPool2d, shape: tuple[int, ...]) -> bool:
    return (pool.kernel_size == pool.stride
            and shape[1] % pool.stride[0] == 0 and shape[2] % pool.stride[1] == 0)


def _conv_through_pool(layer: S.Conv2d, pool: S.AvgPool2d) -> tuple[torch.Tensor, ...]:
    """Kernel, stride and padding of avg_pool (tiling) followed by the conv, as one conv."""
    sh, sw = pool.stride
    w = layer.weight.detach().to(torch.float64)
    o, c, kh, kw = w.shape
    # each kernel tap spreads over the s x s block it averaged, divided by the block size
    big = w.repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3) / (sh * sw)
    mask = None
    if layer.mask is not None:
        mask = layer.mask.bool().repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3)
    stride = (layer.stride[0] * sh, layer.stride[1] * sw)
    padding = (layer.padding[0] * sh, layer.padding[1] * sw)
    return big, mask, stride, padding


def _dense_through(ops: list, in_shape: tuple[int, ...], layer: S.Linear | S.Conv2d
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layer after ``ops`` (pools, flatten) as one matrix on the flattened input."""
    n_in = math.prod(in_shape)

    def apply(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        for op in ops:
            if isinstance(op, S.AvgPool2d):
                h = F.avg_pool2d(h, op.kernel_size, op.stride)
            else:
                h = h.flatten(1)
        if isinstance(layer, S.Linear):
            return h.flatten(1) @ w.t()
        return F.conv2d(h, w, stride=layer.stride, padding=layer.padding).flatten(1)

    w = layer.weight.detach().to(torch.float64)
    probe = apply(torch.zeros((1, *in_shape), dtype=torch.float64), w)
    n_out = probe.shape[1]
    if n_in * n_out > MAX_DENSE_ENTRIES:
        raise SpecError(f"layers before the weighted layer cannot be folded into a convolution "
                        f"and a dense {n_out}x{n_in} matrix is too large to build")
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
    matrix = apply(eye, w).t().contiguous()  # [n_out, n_in]
    mask = None
    if layer.mask is not None:
        # a folded synapse is live when any live spec synapse contributes to it
        live = apply(eye, layer.mask.to(torch.float64)).t()
        mask = live != 0
    return matrix, mask


def to_stages(spec: S.NetworkSpec) -> list[Stage]:
    """The spec's weighted layers as hardware stages, pooling/flatten/amplitude folded in."""
    S.validate(spec)
    shapes = spec.layer_shapes()
    stages: list[Stage] = []
    pending: list = []          # pools / flattens since the last weighted layer
    in_shape = tuple(spec.input_shape)  # what the next stage's synapses receive
    amplitude = 1.0
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, S.WEIGHTED):
            pending.append(layer)
            continue
        out_shape = shapes[i]
        mask = None if layer.mask is None else layer.mask.bool()
        stride, padding = (1, 1), (0, 0)
        after_conv = not stages or stages[-1].kind == "conv"  # conv stages need (C, H, W) input
        if isinstance(layer, S.Conv2d) and not pending and after_conv:
            kind, weight = "conv", layer.weight.detach().to(torch.float64)
            stride, padding = layer.stride, layer.padding
        elif (isinstance(layer, S.Conv2d) and after_conv and len(pending) == 1
              and isinstance(pending[0], S.AvgPool2d) and _pool_tiles(pending[0], in_shape)):
            kind = "conv"
            weight, mask, stride, padding = _conv_through_pool(layer, pending[0])
        elif isinstance(layer, S.Linear) and not pending:
            kind, weight = "dense", layer.weight.detach().to(torch.float64)
        else:
            kind = "dense"
            weight, mask = _dense_through(pending, in_shape, layer)
        if kind == "dense":
            stride, padding = (1, 1), (0, 0)
        weight = weight * amplitude
        n = layer.neuron
        bias = (torch.zeros(out_shape[0], dtype=torch.float64) if layer.bias is None
                else layer.bias.detach().to(torch.float64))
        if len(out_shape) == 3:
            bias = bias[:, None, None]
        spiking = isinstance(n, S.LIF)
        stages.append(Stage(
            layer_index=i, kind=kind, input_shape=in_shape, output_shape=tuple(out_shape),
            weight=weight, mask=mask, stride=tuple(stride), padding=tuple(padding),
            bias=bias.expand(out_shape).clone(), spiking=spiking,
            threshold=_per_neuron(n.threshold, out_shape) if spiking else None,
            leak=float(n.leak), reset=n.reset if spiking else "none",
            v_init=_per_neuron(n.v_init, out_shape)))
        amplitude = float(n.amplitude) if spiking else 1.0
        pending = []
        in_shape = tuple(out_shape)
    return stages


def uniform(t: torch.Tensor | None) -> float | None:
    """The single value of a per-neuron tensor, or None when its neurons differ."""
    if t is None or t.numel() == 0:
        return None
    first = t.flatten()[0]
    return float(first) if bool((t == first).all()) else None
