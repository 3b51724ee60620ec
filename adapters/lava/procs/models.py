"""ProcessModels for the Processes in ``process.py``: floating point and Loihi fixed point.

The neuron arithmetic is ``leanspike.loihi``'s (``lif_float`` / ``lif_fixed``), applied to
Lava's arrays, so the Lava run, the torch emulation and the single-process model share one
definition; what Lava adds is the synapses (its Dense/Sparse/Conv processes), the messaging,
the pipeline timing and the per-sample resets.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.model.sub.model import AbstractSubProcessModel
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.sparse.process import Sparse

from leanspike.adapters.lava.layout import StageLayout, conv_kernel_to_lava, pair_to_lava
from leanspike.adapters.lava.procs.process import (
    Readout,
    SpecNetwork,
    SpecNeuron,
    StreamedSpecNetwork,
    StreamInput,
)
from leanspike.adapters.lava.procs.shared import adopt_vars
from leanspike.loihi.alignment import depths
from leanspike.loihi.emulate import lif_float
from leanspike.loihi.fixed_point import (
    ACT_SHIFT,
    BIAS_EXP,
    NO_MEMORY,
    STATE_MAX,
    FixedStage,
    decay,
    lif_fixed,
)
from leanspike.loihi.stages import split_groups
from leanspike.spec import INPUT

FLOAT_MESSAGE_BITS = 24  # any value > 0 makes Lava's synapses weigh graded payloads

# Lava's runtime hangs when a ProcessModel raises (its error path waits on the healthy
# workers, which wait on their channels), so these models also report failures on a queue
# the runner installs before each run and watches (workers inherit it through fork).
_failures = None


def report_failures_to(queue) -> None:
    global _failures
    _failures = queue


def guarded(run_spk):
    @functools.wraps(run_spk)
    def run(self) -> None:
        try:
            run_spk(self)
        except Exception as exc:
            if _failures is not None:
                _failures.put(f"{type(self).__name__} at time step {self.time_step}: {exc!r}")
            raise
    return run


def window(time_step: int, stage_index: int, timesteps: int) -> tuple[int, int]:
    """(sample j, step tau from 0) that stage ``stage_index``'s neurons process now; j < 0
    before the first sample arrives."""
    rel = time_step - stage_index - 2
    if rel < 0:
        return -1, 0
    return rel // timesteps, rel % timesteps


# --------------------------------------------------------------------------------------------
# input and readout


class _StreamInputModel(PyLoihiProcessModel):
    @guarded
    def run_spk(self) -> None:
        j = (self.time_step - 1) // self.proc_params["timesteps"]
        if j < self.data.shape[0]:
            self.s_out.send(self.data[j])
        else:
            self.s_out.send(np.zeros(self.data.shape[1:], dtype=self.data.dtype))


@implements(proc=StreamInput, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStreamInputFloat(_StreamInputModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    data: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=StreamInput, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStreamInputFixed(_StreamInputModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    data: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)


class _ReadoutModel(PyLoihiProcessModel):
    @guarded
    def run_spk(self) -> None:
        a = self.a_in.recv()
        p = self.proc_params
        if self.time_step == 1:
            adopt_vars(self, {"output": "output"})
        rel = self.time_step - p["latency"]  # step 1..T of sample j at rel = j*T + 1..T
        if rel < 1:
            return
        j, tau = divmod(rel - 1, p["timesteps"])
        if j >= p["num_samples"]:
            return
        if p["counts"]:
            self.output[j] += a
        elif tau == p["timesteps"] - 1:
            self.output[j] = a


@implements(proc=Readout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReadoutFloat(_ReadoutModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    output: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=Readout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReadoutFixed(_ReadoutModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    output: np.ndarray = LavaPyType(np.ndarray, np.int64)


# --------------------------------------------------------------------------------------------
# neurons


def per_neuron(value):
    """A decay parameter as the neuron step takes it: a number, or per neuron (Lava order) as a
    tensor."""
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value


class _SpecNeuronModel(PyLoihiProcessModel):
    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.timesteps, self.stage_index = p["timesteps"], p["stage_index"]
        self.num_samples, self.recording = p["num_samples"], p["record"]
        self.reset_mode, self.is_spiking = p["reset"], p["spiking"]

    def step(self, v: torch.Tensor, u: torch.Tensor, a: torch.Tensor):
        raise NotImplementedError

    @guarded
    def run_spk(self) -> None:
        a = self.a_in.recv()
        if self.time_step == 1 and self.proc_params.get("share_as") is not None:
            k = self.proc_params["share_as"]
            adopt_vars(self, {"spike_count": f"spike_count_{k}", "spikes": f"spikes_{k}"})
        j, tau = window(self.time_step, self.stage_index, self.timesteps)
        if j >= 0 and tau == 0:
            self.v[:] = self.v_init
            self.u[:] = 0
        v, u, s = self.step(torch.from_numpy(self.v.copy()), torch.from_numpy(self.u.copy()),
                            torch.from_numpy(np.asarray(a)))
        self.v[:] = v.numpy()
        self.u[:] = u.numpy()
        if s is None:
            self.s_out.send(self.v.copy())
            return
        s = s.numpy()
        if 0 <= j < self.num_samples:
            self.spike_count += s
            if self.recording:
                self.spikes[j * self.timesteps + tau] = s
        self.s_out.send(s)


@implements(proc=SpecNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpecNeuronFloat(_SpecNeuronModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    v_init: np.ndarray = LavaPyType(np.ndarray, float)
    threshold: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    spike_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    spikes: np.ndarray = LavaPyType(np.ndarray, bool)

    def step(self, v, u, a):
        th = torch.from_numpy(self.threshold) if self.is_spiking else None
        p = self.proc_params
        return lif_float(v, u, a.to(torch.float64), torch.from_numpy(self.bias),
                         per_neuron(p["leak"]), p["current_leak"], th, self.reset_mode)


@implements(proc=SpecNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpecNeuronFixed(_SpecNeuronModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v_init: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    threshold: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    spike_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    spikes: np.ndarray = LavaPyType(np.ndarray, bool)

    def step(self, v, u, a):
        th = torch.from_numpy(self.threshold.astype(np.int64)) if self.is_spiking else None
        p = self.proc_params
        return lif_fixed(v.to(torch.int64), u.to(torch.int64), a.to(torch.int64),
                         torch.from_numpy(self.bias.astype(np.int64)), p["du"],
                         per_neuron(p["dv"]), th, self.reset_mode)


# --------------------------------------------------------------------------------------------
# the whole network, one Lava process per synapse and per neuron population


def neuron_params(stage, layout: StageLayout) -> dict:
    """SpecNeuron arguments for a float Stage or a FixedStage, in Lava order."""
    if isinstance(stage, FixedStage):
        st = stage.stage
        th = stage.vth if st.spiking else torch.zeros(st.output_shape, dtype=torch.int64)
        values = dict(threshold=th, bias=stage.bias_mant, v_init=stage.v_init)
        leak, dv = 1.0 - stage.dv / NO_MEMORY, stage.dv
        decays = dict(current_leak=1.0 - stage.du / NO_MEMORY if stage.du < NO_MEMORY else 0.0,
                      du=stage.du)
    else:
        st = stage
        th = st.threshold if st.spiking else torch.zeros(st.output_shape, dtype=torch.float64)
        values = dict(threshold=th, bias=st.bias, v_init=st.v_init)
        leak, dv = st.leak, 0
        decays = dict(current_leak=st.current_leak, du=NO_MEMORY)
    out = {name: layout.neurons_to_lava(t) for name, t in values.items()}
    # a per-neuron leak (a tensor) goes to Lava in Lava's order, as every per-neuron value
    leak, dv = (layout.neurons_to_lava(t) if isinstance(t, torch.Tensor) else t
                for t in (leak, dv))
    return dict(shape=layout.output_shape, leak=leak, dv=dv, reset=st.reset,
                spiking=st.spiking, **decays, **out)


def build_synapse(group, weight: torch.Tensor, input_shape: tuple[int, ...],
                  message_bits: int, weight_exp: int | None = None):
    """Lava's Dense, Sparse (masked dense) or Conv process for one synapse group (a Stage's
    own or a ``Synapses``: its geometry) with ``weight`` (float, or fixed point's 2 * mantissa
    with ``weight_exp``); ``input_shape`` in Lava order."""
    fixed = weight_exp is not None
    extra = dict(weight_exp=weight_exp, num_weight_bits=8) if fixed else {}
    dtype = np.int32 if fixed else np.float64
    weight = weight.clone()
    if group.kind == "conv":
        if fixed:
            # Lava's Conv model ignores weight_exp: the exponent goes into the integers
            weight = weight << weight_exp
            extra = {}
        if group.mask is not None:
            weight = weight * group.mask
        weight, groups = split_groups(weight, group.groups)  # Lava keeps groups in an int8
        return Conv(weight=conv_kernel_to_lava(weight).astype(dtype),
                    input_shape=input_shape, padding=pair_to_lava(group.padding),
                    stride=pair_to_lava(group.stride), groups=groups,
                    num_message_bits=message_bits, **extra)
    w = weight.numpy().astype(dtype)
    if group.mask is not None:
        live = group.mask.numpy()
        rows, cols = np.nonzero(live)
        sparse = scipy.sparse.csr_matrix((w[rows, cols], (rows, cols)), shape=w.shape)
        return Sparse(weights=sparse, num_message_bits=message_bits, **extra)
    return Dense(weights=w, num_message_bits=message_bits, **extra)


def stage_synapses(stage, k: int) -> list[tuple]:
    """(group, weight, weight exponent or None) for every synapse group of a float Stage or a
    FixedStage, as stage ``k`` of its network."""
    if isinstance(stage, FixedStage):
        weights = [stage.weight, *stage.extra_weights]
        return [(g, w, stage.weight_exp)
                for g, w in zip(stage.stage.synapse_groups(k), weights)]
    return [(g, g.effective_weight(), None) for g in stage.synapse_groups(k)]


def group_input_shape(group) -> tuple[int, ...]:
    """What a synapse group receives, in Lava order."""
    if group.kind == "conv":
        c, h, w = group.input_shape
        return (w, h, c)
    return (int(np.prod(group.input_shape)),)


@implements(proc=SpecNetwork, protocol=LoihiProtocol)
class SpecNetworkPerLayerModel(AbstractSubProcessModel):
    """The deployment path: Dense/Sparse/Conv synapses and SpecNeuron populations; a
    population with several synapse groups (a residual block's) gets one synapse process per
    group, all into its input port, which adds them (as the chip's dendrites do)."""

    def __init__(self, proc) -> None:
        p = proc.proc_params
        stages, layouts = p["stages"], p["layouts"]
        fixed = isinstance(stages[0], FixedStage)
        depth = depths([st.stage if fixed else st for st in stages])
        self.neurons = []
        for k, (stage, layout) in enumerate(zip(stages, layouts)):
            neuron = SpecNeuron(timesteps=p["timesteps"], stage_index=depth[k],
                                num_samples=p["num_samples"], record=p["record"],
                                shared=p.get("shared"), share_as=k,
                                **neuron_params(stage, layout))
            for g, (group, weight, exp) in enumerate(stage_synapses(stage, k)):
                reads_input = group.source == INPUT
                bits = (p["input_bits"] if fixed else FLOAT_MESSAGE_BITS) if reads_input else 0
                synapse = build_synapse(group, weight, group_input_shape(group), bits, exp)
                synapse.a_out.connect(neuron.a_in)
                if reads_input:
                    proc.in_ports.inp.connect(synapse.s_in)
                elif layouts[group.source].kind == "conv" and group.kind == "dense":
                    self.neurons[group.source].s_out.transpose([2, 1, 0]).flatten().connect(
                        synapse.s_in)
                else:
                    self.neurons[group.source].s_out.connect(synapse.s_in)
                setattr(self, f"synapse_{k}" if g == 0 else f"synapse_{k}_{g}", synapse)
            setattr(self, f"neuron_{k}", neuron)
            getattr(proc.vars, f"spike_count_{k}").alias(neuron.spike_count)
            getattr(proc.vars, f"spikes_{k}").alias(neuron.spikes)
            self.neurons.append(neuron)
        self.neurons[-1].s_out.connect(proc.out_ports.out)


# --------------------------------------------------------------------------------------------
# the whole network in one process: same timing, same arithmetic, no messaging between layers


# a synapse whose every partial sum is an integer below 2**24 in magnitude is exact in float32
FLOAT32_EXACT = 1 << 24
_HALF24, _MASK24 = 1 << 23, (1 << 24) - 1
WRAP_FREE = _HALF24 - 1  # wrap24(x) == x for |x| <= WRAP_FREE


def _wrap24_(x: torch.Tensor) -> torch.Tensor:
    """``fixed_point.wrap(x, 24)`` in place on an int64 tensor: two's complement, so the
    floored remainder by 2**24 is the low 24 bits."""
    return x.add_(_HALF24).bitwise_and_(_MASK24).sub_(_HALF24)


class _FixedNeuron:
    """``lif_fixed`` for Lava's LIF (no current state) with its per-layer constants shifted
    once: v = decay(v) + wrap24(a << 6) + (bias << 6), clamped to 24 bits; s = v > vth << 6;
    reset. ``a_bound`` bounds |a| for every input the stage can get: where |a << 6| stays
    within 24 bits the wrap is the identity and is left out. v is a new tensor every step
    (the v passed in is never written: a sample's first step may pass the shared v_init).
    A current-based stage calls ``lif_fixed`` itself."""

    def __init__(self, fs: FixedStage, a_bound: float = float("inf")):
        self.fs = fs
        self.plain = fs.du == NO_MEMORY
        self.bias = fs.bias_mant << BIAS_EXP
        self.th = None if fs.vth is None else fs.vth << ACT_SHIFT
        self.wraps = a_bound * (1 << ACT_SHIFT) > WRAP_FREE

    def __call__(self, v, u, a):
        fs = self.fs
        if not self.plain:
            return lif_fixed(v, u, a, fs.bias_mant, fs.du, fs.dv, fs.vth, fs.reset)
        a = a << ACT_SHIFT  # a new tensor: v is built in it
        if self.wraps:
            _wrap24_(a)
        v = a.add_(decay(v, fs.dv)).add_(self.bias).clamp_(-STATE_MAX, STATE_MAX)
        if self.th is None:
            return v, u, None
        s = v > self.th
        if fs.reset == "subtract":
            v.sub_(self.th * s)
        elif fs.reset == "zero":
            v.masked_fill_(s, 0)
        return v, u, s


def _fixed_synapse(st, weight: torch.Tensor, x_max: int):
    """(``integer_synapse`` of one group with its weights prepared once, bound on |output|)
    for inputs of magnitude at most ``x_max`` (1: binary spikes): the same integers, in
    float32 where every sum is exact there (binary spikes in, sum of |w| per output below
    2**24), else float64. A conv's 24-bit wrap is left out where the bound keeps it the
    identity."""
    w = weight.to(torch.float64)
    fan_in = float(w.abs().flatten(1).sum(1).max()) if w.numel() else 0.0
    w = w.to(torch.float32) if x_max == 1 and fan_in < FLOAT32_EXACT else w
    bound = fan_in * x_max
    shape = st.output_shape
    if st.kind == "dense":
        wt = w.t().contiguous()

        def dense(x: torch.Tensor) -> torch.Tensor:
            return torch.round(x.to(wt.dtype).flatten(1) @ wt).to(torch.int64).view(1, *shape)
        return dense, bound
    wraps = bound > WRAP_FREE

    def conv(x: torch.Tensor) -> torch.Tensor:
        a = torch.round(torch.nn.functional.conv2d(x.to(w.dtype), w, stride=st.stride,
                                                   padding=st.padding, groups=st.groups))
        a = a.to(torch.int64)
        return (_wrap24_(a) if wraps else a).view(1, *shape)
    return conv, min(bound, float(_HALF24)) if wraps else bound


def _float_synapse(group):
    w = group.effective_weight().to(torch.float64)
    shape = group.output_shape
    return lambda x: group.synapse(x.to(torch.float64), weight=w).view(1, *shape)


class _FastNetworkModel(PyLoihiProcessModel):
    """The whole network in one Lava process: the per-layer path's timing and arithmetic
    without the messaging between layers (Lava's cost is per process, not per neuron).

    Per step it does only the step's arithmetic: weights are prepared once (``_fixed_synapse``),
    spike counts are added in place through torch views of Lava's count arrays, and tensors
    cross to numpy only where Lava's ports need them (the input and output message)."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.stages, self.layouts = p["stages"], p["layouts"]
        self.timesteps, self.num_samples = p["timesteps"], p["num_samples"]
        self.recording = p["record"]
        self.is_fixed = isinstance(self.stages[0], FixedStage)
        self.dtype = torch.int64 if self.is_fixed else torch.float64
        floats = [st.stage if self.is_fixed else st for st in self.stages]
        self.shapes = [st.output_shape for st in floats]
        self.depths = depths(floats)
        self.buffers = [torch.zeros((1, *shape), dtype=self.dtype) for shape in self.shapes]
        self.state = [torch.zeros((1, *shape), dtype=self.dtype) for shape in self.shapes]
        self.current = [torch.zeros((1, *shape), dtype=self.dtype) for shape in self.shapes]
        # per stage: (source, synapse function) for every group into its neurons
        self.v_init = [st.v_init.to(self.dtype).expand(1, *shape)
                       for st, shape in zip(self.stages, self.shapes)]
        self._counts: dict[int, tuple[np.ndarray, torch.Tensor]] = {}
        if self.is_fixed:
            # graded input payloads are signed input_bits (InputEncoding.encode clamps them)
            top = (1 << (p["input_bits"] - 1)) - 1 if p["input_bits"] > 0 else FLOAT32_EXACT
            built = [[(g.source, *_fixed_synapse(g, w, top if g.source == INPUT else 1))
                      for g, w in st.synapse_groups(k)] for k, st in enumerate(self.stages)]
            self.synapses = [[(source, fn) for source, fn, _ in groups] for groups in built]
            self.neurons = [_FixedNeuron(st, sum(b for _, _, b in groups))
                            for st, groups in zip(self.stages, built)]
            # a plain neuron never writes the v it is given: a window starts from v_init itself
            self.fresh_copy = [not neuron.plain for neuron in self.neurons]
        else:
            self.synapses = [[(g.source, _float_synapse(g)) for g in st.synapse_groups(k)]
                             for k, st in enumerate(self.stages)]
            self.neurons = None
            self.fresh_copy = [True] * len(self.stages)

    def _count_view(self, k: int) -> torch.Tensor:
        """Stage k's spike counts (a Lava Var, Lava order) as a torch tensor in torch order
        sharing its memory (rebuilt if Lava replaced the array)."""
        array = getattr(self, f"spike_count_{k}")
        cached = self._counts.get(k)
        if cached is None or cached[0] is not array:
            t = torch.from_numpy(array)
            if self.layouts[k].kind == "conv":
                t = t.permute(2, 1, 0)
            cached = self._counts[k] = (array, t.view(self.shapes[k]) if
                                        self.layouts[k].kind != "conv" else t)
        return cached[1]

    def _neuron(self, k, stage, v, u, a):
        if self.is_fixed:
            return self.neurons[k](v, u, a)
        return lif_float(v, u, a, stage.bias, stage.leak, stage.current_leak, stage.threshold,
                         stage.reset)

    @guarded
    def run_spk(self) -> None:
        if self.time_step == 1:
            adopt_vars(self, {f"{var}_{k}": f"{var}_{k}" for k in range(len(self.stages))
                              for var in ("spike_count", "spikes")})
        x = self.layouts[0].inputs_from_lava(self._receive()[None])
        sent = {INPUT: x if self.is_fixed else x.to(self.dtype)}  # synapses take int32 as is
        for k, stage in enumerate(self.stages):
            a_now = self.buffers[k]  # a synapse delivers last step's input, as in Lava
            groups = self.synapses[k]
            self.buffers[k] = groups[0][1](sent[groups[0][0]])
            for source, synapse in groups[1:]:
                self.buffers[k] = self.buffers[k] + synapse(sent[source])
            j, tau = window(self.time_step, self.depths[k], self.timesteps)
            if j >= 0 and tau == 0:
                if self.fresh_copy[k]:
                    self.state[k] = self.v_init[k].clone()
                    self.current[k] = torch.zeros_like(self.state[k])
                else:
                    self.state[k] = self.v_init[k]
            self.state[k], self.current[k], s = self._neuron(k, stage, self.state[k],
                                                             self.current[k], a_now)
            if s is None:
                sent[k] = self.state[k]  # the integrating output sends its potential
                break
            if 0 <= j < self.num_samples:
                self._count_view(k).add_(s[0])
                if self.recording:
                    getattr(self, f"spikes_{k}")[j * self.timesteps + tau] = \
                        self.layouts[k].neurons_to_lava(s[0])
            sent[k] = s
        # as the last neuron population does: a spiking readout sends its spikes
        last = len(self.stages) - 1
        self._deliver(self.layouts[-1].neurons_to_lava(sent[last][0].to(self.dtype)))

    def _receive(self) -> np.ndarray:
        """This step's input (Lava order)."""
        raise NotImplementedError

    def _deliver(self, a: np.ndarray) -> None:
        """What the last population sends this step."""
        raise NotImplementedError


class _StreamedModel(_FastNetworkModel):
    """The single-process model with ``StreamInput``'s and ``Readout``'s steps in it (the
    process ``StreamedSpecNetwork``): sample j's input at each of its T steps, then zeros; the
    output kept (potential at a window's last step, or spikes counted over the window) L steps
    later, as ``_StreamInputModel`` and ``_ReadoutModel`` do."""

    def _receive(self) -> np.ndarray:
        if self.time_step == 1:
            adopt_vars(self, {"output": "output"})
        j = (self.time_step - 1) // self.timesteps
        if j < self.data.shape[0]:
            return self.data[j]
        return np.zeros(self.data.shape[1:], dtype=self.data.dtype)

    def _deliver(self, a: np.ndarray) -> None:
        p = self.proc_params
        rel = self.time_step - p["latency"]  # step 1..T of sample j at rel = j*T + 1..T
        if rel < 1:
            return
        j, tau = divmod(rel - 1, self.timesteps)
        if j >= self.num_samples:
            return
        if p["counts"]:
            self.output[j] += a
        elif tau == self.timesteps - 1:
            self.output[j] = a


# Lava's search wants a model of each Process it can find; the runner picks the per-depth class
# (``fast_network_model``) through ``exception_proc_model_map``
@implements(proc=StreamedSpecNetwork, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStreamedFloat(_StreamedModel):
    data: np.ndarray = LavaPyType(np.ndarray, float)
    output: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=StreamedSpecNetwork, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStreamedFixed(_StreamedModel):
    data: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    output: np.ndarray = LavaPyType(np.ndarray, np.int64)


_FAST_MODELS: dict[tuple[bool, int], type] = {}


def fast_network_model(fixed: bool, num_stages: int) -> type:
    """The single-process ProcessModel of a ``num_stages`` StreamedSpecNetwork (input,
    network and readout in one process).

    Lava wants every Var typed on the model class and no more, and the process has Vars per
    stage, so the class is made per depth; run configs select it through
    ``exception_proc_model_map``.
    """
    key = (fixed, num_stages)
    if key not in _FAST_MODELS:
        attrs = {"__module__": __name__, "__doc__": _FastNetworkModel.__doc__}
        for k in range(num_stages):
            attrs[f"spike_count_{k}"] = LavaPyType(np.ndarray, np.int64)
            attrs[f"spikes_{k}"] = LavaPyType(np.ndarray, bool)
        base = PyStreamedFixed if fixed else PyStreamedFloat
        cls = type(f"PyStreamed{'Fixed' if fixed else 'Float'}{num_stages}", (base,), attrs)
        cls = implements(proc=StreamedSpecNetwork, protocol=LoihiProtocol)(cls)
        cls = requires(CPU)(cls)
        cls = tag("fixed_pt" if fixed else "floating_pt")(cls)
        _FAST_MODELS[key] = cls
    return _FAST_MODELS[key]
