"""A spec as neuromorphic hardware sees it: one synapse + neuron stage per weighted layer.

Loihi-style back-ends (and Lava's Dense/Sparse/Conv processes) have no pooling or flatten and
no spike amplitude: a spike is a 1. So each weighted layer absorbs what comes before it:

- the previous LIF layer's ``amplitude`` multiplies this layer's weights (W * (a s) = (W a) s);
- an ``AvgPool2d`` before a ``Conv2d`` becomes part of the convolution when the pool tiles its
  input (kernel == stride, sizes divisible): kernel (K-1)s + s, stride S s, padding P s;
- anything else before a layer (pool + flatten before a ``Linear``, an irregular pool before a
  conv) is folded into a dense matrix, computed by pushing the identity through the ops.

Max pooling of spikes is not a fold but a stage of its own, a pooling population: one neuron
per window, fed by a fixed sum pooling (a grouped convolution with unit weights, each channel
onto itself), threshold 1/2 of a spike, reset to zero, no leak, starting at 0. Its potential is
the number of the window's inputs that spiked this step, so it fires exactly when one did (the
OR), in float and in Loihi integers alike, and is back at 0 after every step. Its spike stands
for the amplitude of the LIF layer before it, which goes into the next layer's weights as
always. It costs one synaptic hop (one time step of latency on Lava). Max pooling of anything
but spikes (the analog input, averaged spikes) has no such population and is refused.

A current-based layer (``current_leak`` > 0, snnTorch's Synaptic) keeps its current state in
the stage: i[t] = current_leak * i[t-1] + W x[t] + b, u[t] = leak * u[t-1] + i[t]. Its bias
joins the current, as in the spec and in snnTorch (the input to Synaptic includes the layer's
bias), not the potential as in Loihi's LIF; folding weights is linear, so nothing else changes.

A 1-D network (Conv1d, AvgPool1d, MaxPool1d on (C, L) signals) is its 2-D twin with height 1:
(C, L) is (C, 1, L), a kernel k is (1, k), and every fold, pooling population, Loihi integer and
Lava Conv process is the 2-D one, unchanged; ``Stage.spec_shape`` keeps the spec's own shape of
each layer's output so that spikes and outputs are reported as the spec has them.

A spiking readout (a LIF output layer) is a spiking stage like the others; its amplitude has no
next layer to go into, so the stage keeps it: the network's output is the stage's spike count
times it (``count_output``).

All folding is exact in real arithmetic; weights are kept in float64 so that it adds no
rounding worth the name. ``leanspike.loihi.emulate`` runs stages and is tested equal to
``leanspike.reference.simulate``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leanspike import spec as S
from leanspike.errors import SpecError

# Materialising a dense matrix beyond this many entries is refused with a clear error.
MAX_DENSE_ENTRIES = 64_000_000
# A pooling neuron's threshold, in units of one incoming spike: any spike of the window fires it.
POOL_THRESHOLD = 0.5
# Lava's Conv (and so lava-dl netx) keeps a convolution's groups in an int8
MAX_LAVA_GROUPS = 127


class _SynapseMath:
    """What a group of synapses computes, from its geometry (shared by ``Stage``, whose own
    fields are its first group, and ``Synapses``, any further group)."""

    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    weight: torch.Tensor
    mask: torch.Tensor | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int

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
        """The group's synaptic current for a batch of inputs (no bias)."""
        w = self.effective_weight() if weight is None else weight
        w = w.to(x.dtype)
        if self.kind == "dense":
            return (x.flatten(1) @ w.t()).reshape(x.shape[0], *self.output_shape)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding, groups=self.groups)


@dataclass(eq=False)
class Synapses(_SynapseMath):
    """A further group of synapses into a stage's neurons, from its own ``source``: a residual
    network's shortcut, or one of the spike trains a SEW sum feeds on. The chip's dendrites
    (and a Lava neuron's input port) add the groups' currents, exactly."""

    source: int                    # the stage whose spikes it receives; INPUT: the network's
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    weight: torch.Tensor           # float64, in the stage's units (amplitudes folded in)
    mask: torch.Tensor | None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1


@dataclass(eq=False)
class Stage(_SynapseMath):
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
    leak: float | torch.Tensor     # one per layer, or float64 per neuron (output shape)
    reset: str                     # "subtract", "zero", "none"; "none" when not spiking
    v_init: torch.Tensor           # float64, output shape
    groups: int = 1                # conv stages: input and output channels split in groups
    amplitude: float = 1.0         # what one spike stands for: already in the next stage's
                                   # weights; on a spiking readout, what one count is worth
    current_leak: float = 0.0      # decay of a current state (snnTorch Synaptic); 0: none
    spec_shape: tuple[int, ...] | None = None  # the spec layer's output shape, if not
                                               # output_shape (1-D layers: (C, L))
    source: int | None = None      # the stage whose spikes the synapses above receive (INPUT:
                                   # the network's input); None: the stage before (a chain)
    extra_synapses: tuple[Synapses, ...] = ()  # further groups into the same neurons
    relay: bool = False            # a relay population (see ``leanspike.loihi.alignment``):
                                   # it delays its source's spikes by a step and stands for no
                                   # spec layer of its own

    @property
    def layer_shape(self) -> tuple[int, ...]:
        """The output shape as the spec has it: spikes and outputs are reported in it."""
        return self.output_shape if self.spec_shape is None else self.spec_shape

    def source_of(self, k: int) -> int:
        """The source of the stage's own synapses, as stage ``k`` of its list."""
        return k - 1 if self.source is None else self.source

    def synapse_groups(self, k: int) -> list[Synapses]:
        """Every synapse group into the neurons, the stage's own first, with its source, as
        stage ``k`` of its list (one group in a chain)."""
        own = Synapses(self.source_of(k), self.kind, self.input_shape, self.output_shape,
                       self.weight, self.mask, self.stride, self.padding, self.groups)
        return [own, *self.extra_synapses]

    def live_synapses(self) -> int:
        """Stored synapses that can carry a spike, in every group."""
        return super().live_synapses() + sum(g.live_synapses() for g in self.extra_synapses)


def split_groups(weight: torch.Tensor, groups: int, max_groups: int = MAX_LAVA_GROUPS
                 ) -> tuple[torch.Tensor, int]:
    """The same grouped convolution with at most ``max_groups`` groups: neighbouring groups
    merged into one with block-diagonal weights (zeros between them). Returns (weight, groups)."""
    if groups <= max_groups:
        return weight, groups
    merged = max(d for d in range(1, max_groups + 1) if groups % d == 0)
    per = groups // merged                 # old groups per new group
    out_g, in_g = weight.shape[0] // groups, weight.shape[1]
    new = torch.zeros(weight.shape[0], in_g * per, *weight.shape[2:], dtype=weight.dtype)
    for g in range(groups):
        k = g % per                        # its place among the new group's inputs
        new[g * out_g:(g + 1) * out_g, k * in_g:(k + 1) * in_g] = weight[g * out_g:(g + 1) * out_g]
    return new, merged


def _per_neuron(value, shape: tuple[int, ...]) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    return t.detach().to(torch.float64).expand(shape).clone()


def _leak(value, shape: tuple[int, ...]) -> float | torch.Tensor:
    """A layer's leak as one number when all its neurons share it, else per neuron."""
    if not isinstance(value, torch.Tensor):
        return float(value)
    per_neuron = _per_neuron(value, shape)
    same = uniform(per_neuron)
    return per_neuron if same is None else same


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


def _pool_stage(index: int, pool: S.MaxPool2d, in_shape: tuple[int, ...],
                out_shape: tuple[int, ...], kind: str, amplitude: float) -> Stage:
    """The pooling population of a max pooling of spikes (see the module docstring); ``kind``
    "dense" when the spikes come from a dense stage (a flat vector on Lava)."""
    c = in_shape[0]
    weight = torch.ones(c, 1, *pool.kernel_size, dtype=torch.float64)
    groups, stride = c, tuple(pool.stride)
    if kind == "dense":
        n_in = math.prod(in_shape)
        if n_in * math.prod(out_shape) > MAX_DENSE_ENTRIES:
            raise SpecError(f"layers[{index}] (MaxPool2d): its input comes from a dense stage, "
                            f"and a dense {math.prod(out_shape)}x{n_in} pooling matrix is too "
                            f"large to build")
        eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
        weight = F.conv2d(eye, weight, stride=stride, groups=c).flatten(1).t().contiguous()
        groups, stride = 1, (1, 1)
    zeros = torch.zeros(out_shape, dtype=torch.float64)
    return Stage(layer_index=index, kind=kind, input_shape=in_shape, output_shape=out_shape,
                 weight=weight, mask=None, stride=stride, padding=(0, 0), bias=zeros,
                 spiking=True, threshold=torch.full(out_shape, POOL_THRESHOLD,
                                                    dtype=torch.float64),
                 leak=1.0, reset="zero", v_init=zeros.clone(), groups=groups,
                 amplitude=amplitude)


def _refuse_max_pool(spec: S.NetworkSpec, index: int) -> SpecError:
    where = f"layers[{index}] ({type(spec.layers[index]).__name__})"
    before = [type(layer).__name__ for layer in spec.layers[:index]]
    if not any(isinstance(layer, S.WEIGHTED) for layer in spec.layers[:index]):
        return SpecError(f"{where}: max pooling of the network's analog input cannot be "
                         f"deployed: Loihi receives the input as graded spikes and its synapses "
                         f"sum, they take no max. Pool the data before it enters the network, or "
                         f"pool after the first neuron layer")
    return SpecError(f"{where}: max pooling after {before[-1]} pools values that are not spikes "
                     f"(a max of averages), which a Loihi neuron cannot compute; put the max "
                     f"pooling directly after the LIF layer")


def _unsqueezed(value):
    """A per-neuron tensor of a (C, L) layer as one of its (C, 1, L) twin."""
    return value.unsqueeze(-2) if isinstance(value, torch.Tensor) and value.dim() == 2 else value


def _neuron_2d(n):
    """A neuron of a (C, L) layer as one of its (C, 1, L) twin."""
    if n is None:
        return None
    return dataclasses.replace(n, **{k: _unsqueezed(getattr(n, k))
                                     for k in ("threshold", "leak", "v_init") if hasattr(n, k)})


def as_2d(spec: S.NetworkSpec) -> S.NetworkSpec:
    """The spec with every 1-D layer as its 2-D twin of height 1 (the same network): a (C, L)
    input becomes (C, 1, L). Specs without 1-D layers or inputs come back as they are."""
    if len(spec.input_shape) != 2 and not any(isinstance(layer, (S.Conv1d, S.AvgPool1d,
                                                                S.MaxPool1d))
                                              for layer in spec.layers):
        return spec
    layers = []
    for layer in spec.layers:
        node = dict(inputs=layer.inputs, name=layer.name)
        if isinstance(layer, S.Conv1d):
            layer = S.Conv2d(layer.weight.unsqueeze(2), layer.bias,
                             None if layer.mask is None else layer.mask.unsqueeze(2),
                             _neuron_2d(layer.neuron), stride=(1, layer.stride[0]),
                             padding=(0, layer.padding[0]), **node)
        elif isinstance(layer, (S.AvgPool1d, S.MaxPool1d)):
            pool = S.AvgPool2d if isinstance(layer, S.AvgPool1d) else S.MaxPool2d
            layer = pool((1, layer.kernel_size[0]), (1, layer.stride[0]), **node)
        elif isinstance(layer, S.Add):
            layer = dataclasses.replace(layer, neuron=_neuron_2d(layer.neuron))
        layers.append(layer)
    shape = spec.input_shape
    if len(shape) == 2:
        shape = (shape[0], 1, shape[1])
    return dataclasses.replace(spec, input_shape=shape, layers=layers)


@dataclass(frozen=True)
class _Spikes:
    """One spike train as a later layer receives it: from stage ``source`` (INPUT: the
    network's analog input), each spike worth ``coef``, through the pools and flattens
    ``ops`` since; ``shape`` is what the source sends."""

    source: int
    coef: float
    ops: tuple
    shape: tuple[int, ...]


@dataclass
class _Current:
    """What reaches a population: (weights, spike train) pairs and a bias. A weighted layer
    without neurons is one, which the Add that carries the neuron takes over."""

    pieces: list[tuple[S.Linear | S.Conv2d, _Spikes]]
    bias: torch.Tensor


def _identity(shape: tuple[int, ...]) -> S.Linear | S.Conv2d:
    """Unit synapses, each neuron onto its own: how a spike shortcut reaches an Add's
    population (a 1x1 convolution, or a dense identity on flat spikes)."""
    if len(shape) == 3:
        return S.Conv2d(torch.eye(shape[0], dtype=torch.float64)[:, :, None, None])
    return S.Linear(torch.eye(math.prod(shape), dtype=torch.float64))


def _group(layer: S.Linear | S.Conv2d, term: _Spikes, out_shape: tuple[int, ...],
           conv_input: bool, allow_conv: bool) -> Synapses:
    """Layer ``layer``'s synapses on one spike train: a convolution where the layer is one
    and its input arrives as an image (directly or through one tiling average pool), else
    a dense matrix with the pools and flattens folded in; weights times the spike's worth."""
    ops, in_shape = list(term.ops), term.shape
    mask = None if layer.mask is None else layer.mask.bool()
    conv = allow_conv and isinstance(layer, S.Conv2d) and conv_input
    stride, padding = (1, 1), (0, 0)
    if conv and not ops:
        kind, weight = "conv", layer.weight.detach().to(torch.float64)
        stride, padding = tuple(layer.stride), tuple(layer.padding)
    elif (conv and len(ops) == 1 and isinstance(ops[0], S.AvgPool2d)
          and _pool_tiles(ops[0], in_shape)):
        kind = "conv"
        weight, mask, stride, padding = _conv_through_pool(layer, ops[0])
    elif isinstance(layer, S.Linear) and not ops:
        kind, weight = "dense", layer.weight.detach().to(torch.float64)
    else:
        kind = "dense"
        weight, mask = _dense_through(ops, in_shape, layer)
    return Synapses(term.source, kind, tuple(in_shape), tuple(out_shape), weight * term.coef,
                    mask, tuple(stride), tuple(padding))


def _bias(layer, out_shape: tuple[int, ...]) -> torch.Tensor:
    bias = (torch.zeros(out_shape[0], dtype=torch.float64) if layer.bias is None
            else layer.bias.detach().to(torch.float64))
    if len(out_shape) == 3:
        bias = bias[:, None, None]
    return bias.expand(out_shape).clone()


def to_stages(spec: S.NetworkSpec) -> list[Stage]:
    """The spec's neuron populations as hardware stages (pooling/flatten/amplitude folded into
    their synapses, each max pooling of spikes a pooling population of its own), in the
    spec's order, aligned for a pipelined back-end (``leanspike.loihi.alignment``).

    A chain gives one synapse group per stage, from the stage before. A graph gives a stage
    one group per spike train that reaches its neurons: a residual block's output population
    gets its last convolution's synapses and the shortcut's (a 1x1 convolution, or unit
    synapses from the block's input spikes); a layer after a SEW sum gets its weights once on
    each summed spike train (W (a s_a + b s_b) = (W a) s_a + (W b) s_b). The chip adds the
    groups' currents, so both styles are exact in float and in Loihi integers.
    """
    from leanspike.loihi.alignment import aligned

    S.validate(spec)
    spec_shapes, original = spec.layer_shapes(), spec
    spec = as_2d(spec)
    shapes = spec_shapes if spec is original else spec.layer_shapes()  # the twin's own shapes
    stages: list[Stage] = []
    outputs: dict[int, list[_Spikes] | _Current] = {
        S.INPUT: [_Spikes(S.INPUT, 1.0, (), tuple(spec.input_shape))]}

    def conv_input(term: _Spikes) -> bool:  # conv synapses need an image (C, H, W) input
        return term.source == S.INPUT or stages[term.source].kind == "conv"

    def reaching(i: int, layer, out_shape) -> _Current:
        """The (weights, spike train) pairs that reach node ``i``'s neurons, and its bias: a
        weighted layer's weights on each train it receives; an Add's inputs' currents as they
        are and unit synapses from each spike train it sums."""
        pieces, bias = [], torch.zeros(out_shape, dtype=torch.float64)
        if isinstance(layer, S.WEIGHTED):
            bias = _bias(layer, out_shape)
        for j in spec.inputs_of(i):
            value = outputs[j]
            if isinstance(value, _Current):
                pieces += value.pieces
                bias = bias + value.bias
            else:
                weights = layer if isinstance(layer, S.WEIGHTED) else _identity(out_shape)
                pieces += [(weights, term) for term in value]
        return _Current(pieces, bias)

    def synapse_groups(current: _Current, out_shape) -> list[Synapses]:
        """One group per pair; all convolutions where every pair can be one, else all dense
        (one population has one layout on Lava)."""
        groups = [_group(w, t, out_shape, conv_input(t), True) for w, t in current.pieces]
        if len({g.kind for g in groups}) > 1:
            groups = [_group(w, t, out_shape, conv_input(t), False) for w, t in current.pieces]
        return groups

    for i, layer in enumerate(spec.layers):
        src = spec.inputs_of(i)[0]
        if isinstance(layer, S.MaxPool2d):
            value = outputs[src]
            if (isinstance(value, _Current) or len(value) != 1 or value[0].ops
                    or value[0].source == S.INPUT):
                raise _refuse_max_pool(original, i)
            term = value[0]
            stages.append(_pool_stage(i, layer, term.shape, tuple(shapes[i]),
                                      stages[term.source].kind, term.coef))
            stages[-1].source = term.source
            stages[-1].spec_shape = _differs(spec_shapes[i], shapes[i])
            # the pool's spike stands for the amplitude before it
            outputs[i] = [_Spikes(len(stages) - 1, term.coef, (), tuple(shapes[i]))]
            continue
        if isinstance(layer, (S.AvgPool2d, S.Flatten)):
            outputs[i] = [dataclasses.replace(t, ops=(*t.ops, layer)) for t in outputs[src]]
            continue
        if isinstance(layer, S.Add) and layer.neuron is None:  # a SEW sum of spike trains
            outputs[i] = [t for j in spec.inputs_of(i) for t in outputs[j]]
            continue
        out_shape = tuple(shapes[i])
        current = reaching(i, layer, out_shape)
        n = layer.neuron
        if n is None:  # a current that an Add's neuron integrates
            outputs[i] = current
            continue
        groups, bias = synapse_groups(current, out_shape), current.bias
        spiking = isinstance(n, S.LIF)
        own, extra = groups[0], tuple(groups[1:])
        stages.append(Stage(
            layer_index=i, kind=own.kind, input_shape=own.input_shape, output_shape=out_shape,
            weight=own.weight, mask=own.mask, stride=own.stride, padding=own.padding,
            bias=bias, spiking=spiking,
            threshold=_per_neuron(n.threshold, out_shape) if spiking else None,
            leak=_leak(n.leak, out_shape), reset=n.reset if spiking else "none",
            v_init=_per_neuron(n.v_init, out_shape),
            amplitude=float(n.amplitude) if spiking else 1.0,
            current_leak=float(n.current_leak),
            spec_shape=_differs(spec_shapes[i], out_shape),
            source=own.source, extra_synapses=extra))
        outputs[i] = [_Spikes(len(stages) - 1, stages[-1].amplitude, (), out_shape)]
    return aligned(stages, original)


def residual_join(stages: list[Stage]) -> Stage | None:
    """The first stage that makes the stages more than a chain (a second synapse group, a
    relay, or a source other than the stage before), or None for a chain."""
    return next((st for k, st in enumerate(stages)
                 if st.extra_synapses or st.relay or st.source_of(k) != k - 1), None)


def _differs(spec_shape, shape) -> tuple[int, ...] | None:
    return None if tuple(spec_shape) == tuple(shape) else tuple(spec_shape)


def count_output(counts: torch.Tensor, amplitude: float) -> torch.Tensor:
    """A spiking readout's output, sum_t amplitude * s[t], from its spike counts (float32).

    Added one step at a time in float32, as ``leanspike.reference.simulate`` adds it, so that
    every back-end that counts spikes gives the reference's output bit for bit (k * amplitude
    rounded once can differ from k roundings in the last bit).
    """
    counts = counts.to(torch.int64)
    spike = torch.ones(1) * amplitude  # a float32 spike times the amplitude, as the reference
    sums = [torch.zeros(1)]
    for _ in range(int(counts.max()) if counts.numel() else 0):
        sums.append(sums[-1] + spike)
    return torch.cat(sums)[counts.cpu()].to(counts.device)


def uniform(t: torch.Tensor | None) -> float | None:
    """The single value of a per-neuron tensor, or None when its neurons differ."""
    if t is None or t.numel() == 0:
        return None
    first = t.flatten()[0]
    return float(first) if bool((t == first).all()) else None
