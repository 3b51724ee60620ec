"""Convolutional layers of integrate-and-fire neurons that fire at most once per sample.

Definition (discrete time t = 0..T-1, no leak, the potential starts at 0 for every sample):

    V_i(t) = sum of w_ij over live synapses j -> i whose presynaptic neuron fired at t_j <= t
    t_i    = first t with V_i(t) >= threshold, else NEVER       (fires once: refractory after)

With pointwise lateral inhibition the first neuron to fire at an image position silences the
other feature maps there (ties: larger V_i(t_i), then lower map index), as in Kheradpisheh et
al. (2018). Pooling passes the first spike of each window. ``ttfs_step`` is the same
definition one time step at a time; the Lava deployment runs it, the tests check both agree.

Synapses are integrated event by event: each presynaptic spike is delivered along its live
outgoing synapses only, so a pruned synapse costs nothing and the work done is exactly the
synaptic events counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from leanspike.errors import ConfigError
from leanspike.stdp.encoding import NEVER

_OUT_OF_BOUNDS = -(2**30)  # padding marker in patches: no presynaptic neuron there


class Synapses:
    """The live synapses of one conv layer, unrolled over positions and grouped by
    presynaptic neuron (a CSC layout): what an event-driven core stores and walks.

    Rebuilt whenever the mask loses synapses; between prunings only the weight values change,
    and they are read through ``tap`` (the flat kernel index of each synapse, weights being
    shared across positions).
    """

    def __init__(self, input_shape: tuple[int, int, int], mask: torch.Tensor, padding: int):
        c, h, w = input_shape
        o, c_k, kh, kw = mask.shape
        if c_k != c:
            raise ConfigError(f"kernel expects {c_k} input channels, input has {c}")
        ho, wo = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
        if ho < 1 or wo < 1:
            raise ConfigError(f"kernel {kh}x{kw} with padding {padding} does not fit {h}x{w}")
        self.input_shape, self.output_shape = (c, h, w), (o, ho, wo)
        self.num_pre, self.num_post = c * h * w, o * ho * wo
        live = mask.reshape(-1).nonzero().squeeze(1)                      # live kernel taps
        oo, cc, dy, dx = (live // (c * kh * kw), live // (kh * kw) % c, live // kw % kh,
                          live % kw)
        oy, ox = torch.meshgrid(torch.arange(ho), torch.arange(wo), indexing="ij")
        oy, ox = oy.reshape(1, -1), ox.reshape(1, -1)                     # [1, P]
        y, x = oy + dy[:, None] - padding, ox + dx[:, None] - padding     # [L, P]
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        pre = (cc[:, None] * h + y) * w + x
        post = (oo[:, None] * ho + oy) * wo + ox
        tap = live[:, None].expand_as(pre)
        pre, post, tap = pre[inside], post[inside], tap[inside]
        order = torch.argsort(pre * self.num_post + post)
        self.pre, self.post, self.tap = pre[order], post[order], tap[order]
        self.out_degree = torch.bincount(self.pre, minlength=self.num_pre)
        self.pre_ptr = torch.zeros(self.num_pre + 1, dtype=torch.int64)
        self.pre_ptr[1:] = torch.cumsum(self.out_degree, 0)

    @property
    def count(self) -> int:
        """Live synapses, unrolled over positions."""
        return int(self.post.numel())

    def deliver(self, weight: torch.Tensor, times: torch.Tensor, timesteps: int
                ) -> tuple[torch.Tensor, int]:
        """(potentials [N, T, num_post] float64, synaptic events) for presynaptic spike times
        ``times`` [N, num_pre]: every spike is delivered along its live outgoing synapses at
        its time step (event-driven synapses), and the potentials are the running sums
        (clock-driven neurons: at these sizes a dense [T, neurons] pass is cheaper than
        ordering the deliveries per neuron; measured on digits' second layer, 0.7 ms against
        2.2 ms per sample before pruning and equal after)."""
        n = times.shape[0]
        n_idx, pre_idx = (times < timesteps).nonzero(as_tuple=True)
        deg = self.out_degree[pre_idx]
        events = int(deg.sum())
        base = (n_idx * timesteps + times[n_idx, pre_idx]) * self.num_post
        offset = self.pre_ptr[pre_idx] - (torch.cumsum(deg, 0) - deg)
        syn = torch.repeat_interleave(offset, deg) + torch.arange(events)
        target = torch.repeat_interleave(base, deg) + self.post[syn]
        w = weight.reshape(-1).to(torch.float64)
        inc = torch.zeros(n * timesteps * self.num_post, dtype=torch.float64)
        inc.index_add_(0, target, w[self.tap[syn]])
        return inc.view(n, timesteps, self.num_post).cumsum(1), events


def first_spikes(potentials: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(first-spike times, potential at that time) from potentials [N, T, ...]. Weights are
    non-negative, so a potential never falls: the first crossing is the number of steps spent
    below the threshold."""
    steps = potentials.shape[1]
    t = (potentials < threshold).sum(1)
    fired = t < steps
    v = potentials.gather(1, t.clamp(max=steps - 1).unsqueeze(1)).squeeze(1)
    return torch.where(fired, t, torch.full_like(t, NEVER)), torch.where(fired, v, 0.0)


def pointwise_inhibition(times: torch.Tensor, v_at: torch.Tensor) -> torch.Tensor:
    """Keep, at each position of [N, C, H, W], only the feature map that fires first (ties:
    larger potential, then lower index); the others never fire."""
    first = times.min(1, keepdim=True).values
    cand = (times == first) & (times < NEVER)
    score = torch.where(cand, v_at, torch.full_like(v_at, -float("inf")))
    win = F.one_hot(score.argmax(1), times.shape[1]).permute(0, 3, 1, 2).bool() & cand
    return torch.where(win, times, torch.full_like(times, NEVER))


def ttfs_step(v: torch.Tensor, fired: torch.Tensor, blocked: torch.Tensor, current: torch.Tensor,
              threshold: float, inhibition: bool, channel_dim: int):
    """One time step of a fire-once IF population, the layer definition step by step.

    ``blocked`` (channel dimension of size 1) marks positions where a map already fired under
    pointwise inhibition. Returns (v, fired, blocked, spikes)."""
    v = v + current
    cand = (v >= threshold) & ~fired & ~blocked
    if inhibition:
        score = torch.where(cand, v, torch.full_like(v, -float("inf")))
        best = score.argmax(channel_dim, keepdim=True)
        idx = torch.arange(v.shape[channel_dim]).view(
            [-1 if d == channel_dim % v.dim() else 1 for d in range(v.dim())])
        cand = cand & (idx == best)
        blocked = blocked | cand.any(channel_dim, keepdim=True)
    return v, fired | cand, blocked, cand


@dataclass(eq=False)  # identity: comparing weight tensors has no single truth value
class TTFSConv:
    """A convolution (stride 1) onto fire-once IF neurons; weights in [0, 1], shared by
    position; ``mask`` marks live synapses (pruned ones are gone for good)."""

    weight: torch.Tensor                  # [O, C, kh, kw]
    threshold: float
    padding: int = 0
    mask: torch.Tensor | None = None      # bool, same shape; None: all live
    inhibition: bool = True               # pointwise lateral inhibition between maps
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.weight.dim() != 4:
            raise ConfigError(f"TTFSConv weight must be [O, C, kh, kw], got "
                              f"{tuple(self.weight.shape)}")
        if self.mask is None:
            self.mask = torch.ones_like(self.weight, dtype=torch.bool)
        if self.mask.shape != self.weight.shape:
            raise ConfigError(f"TTFSConv mask shape {tuple(self.mask.shape)} differs from the "
                              f"weight's {tuple(self.weight.shape)}")
        self.mask = self.mask.bool()
        if bool((self.weight < 0).any()):
            raise ConfigError("TTFSConv weights must be non-negative (STDP keeps them in [0, 1]; "
                              "the first-spike search relies on potentials never falling)")
        self.weight = (self.weight * self.mask).to(torch.float64)

    def synapses(self, input_shape: tuple[int, int, int]) -> Synapses:
        """The unrolled live synapses for this input shape (rebuilt after ``prune``: change
        the mask through it)."""
        key = tuple(input_shape)
        if self._cache.get("key") != key:
            self._cache.update(key=key, synapses=Synapses(input_shape, self.mask, self.padding))
        return self._cache["synapses"]

    def prune(self, where: torch.Tensor) -> int:
        """Remove the live synapses where ``where`` is true, for good; return how many."""
        gone = where & self.mask
        if bool(gone.any()):
            self.mask &= ~gone
            self.weight[gone] = 0.0
            self._cache.clear()
        return int(gone.sum())

    def potentials(self, times: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, int]:
        """(potentials [N, T, O, Ho, Wo], synaptic events) for input times [N, C, H, W]."""
        syn = self.synapses(tuple(times.shape[1:]))
        v, events = syn.deliver(self.weight, times.reshape(len(times), -1), timesteps)
        return v.view(len(times), timesteps, *syn.output_shape), events

    def fire(self, times: torch.Tensor, timesteps: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(output spike times [N, O, Ho, Wo], potential at each spike, synaptic events)."""
        v, events = self.potentials(times, timesteps)
        t, v_at = first_spikes(v, self.threshold)
        if self.inhibition:
            t = pointwise_inhibition(t, v_at)
        return t, v_at, events

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        _, h, w = input_shape
        o, _, kh, kw = self.weight.shape
        return o, h + 2 * self.padding - kh + 1, w + 2 * self.padding - kw + 1


@dataclass
class FirstSpikePool:
    """Max pooling in time-to-first-spike code: a window fires when its first input does."""

    kernel: int = 2
    stride: int | None = None

    def fire(self, times: torch.Tensor) -> torch.Tensor:
        stride = self.stride or self.kernel
        pooled = -F.max_pool2d(-times.to(torch.float64), self.kernel, stride)
        return pooled.to(torch.int64)

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c, h, w = input_shape
        s = self.stride or self.kernel
        return c, (h - self.kernel) // s + 1, (w - self.kernel) // s + 1


def patch_times(times: torch.Tensor, padding: int) -> torch.Tensor:
    """One sample's input times [C, H, W] padded with the out-of-bounds marker, so that the
    receptive field of output (y, x) is ``padded[:, y:y+kh, x:x+kw]``."""
    return F.pad(times, (padding,) * 4, value=_OUT_OF_BOUNDS)


def in_bounds(patch: torch.Tensor) -> torch.Tensor:
    return patch != _OUT_OF_BOUNDS
