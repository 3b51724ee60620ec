"""Lava Processes (interfaces) for spec networks; their behaviour is in ``models.py``.

As in Lava's own library, a Process declares ports and Vars only. Each has a floating-point
ProcessModel (tag ``floating_pt``) and a Loihi bit-accurate one (tag ``fixed_pt``);
``SpecNetwork`` also has a SubProcessModel that builds one Lava process per synapse and per
neuron population (the deployment path), selected with ``select_sub_proc_model=True``.

Timing (Lava's): a synapse process delays by one step, so the neurons of stage k (0-based) see
step tau (1..T) of sample j at time step j*T + tau + k + 1, and the output of sample j is
complete at j*T + T + L for an L-stage network. Every neuron process resets to its initial
potential at the start of each of its windows. A max pooling of spikes is a stage of its own
(a pooling population: ``leanspike.loihi.stages``), so each one adds a step to L, once per run:
streamed samples follow each other without a gap. A spiking readout's spikes for sample j
arrive at j*T + tau + L, tau = 1..T, and are counted per window.

In a residual network "stage k" reads "a population d hops from the input": its windows follow
its depth d (``leanspike.loihi.alignment.depths``), L is the output's depth + 1, and relay
populations make every synapse group's source exactly one hop earlier, so each population's
inputs belong to the same sample and step.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from leanspike.loihi.fixed_point import NO_MEMORY


class StreamInput(AbstractProcess):
    """Sends sample j's analog (or graded integer) input at each of its T steps, then zeros."""

    def __init__(self, *, data: np.ndarray, timesteps: int, **kwargs) -> None:
        super().__init__(data=data, timesteps=timesteps, **kwargs)
        shape = tuple(data.shape[1:])
        self.s_out = OutPort(shape=shape)
        self.data = Var(shape=data.shape, init=data)


class SpecNeuron(AbstractProcess):
    """A population of spec neurons: LIF with reset by subtraction or to zero, initial
    potential, per-neuron thresholds, and a current state when ``current_leak`` > 0 (snnTorch's
    Synaptic; its bias joins the current); or (``spiking=False``) an integrator that sends its
    potential instead of spikes.

    Float models read ``threshold``, ``bias``, ``v_init`` as real values and ``leak``,
    ``current_leak``; fixed models read them as Loihi mantissas (threshold and bias in weight
    units, v_init in v units) and the 12-bit decays ``dv`` and ``du``. Both v and the current
    ``u`` start each sample afresh (v_init and 0).
    """

    def __init__(self, *, shape: tuple[int, ...], threshold: np.ndarray, bias: np.ndarray,
                 v_init: np.ndarray, leak: float, dv: int, reset: str, spiking: bool,
                 timesteps: int, stage_index: int, num_samples: int, record: bool = False,
                 current_leak: float = 0.0, du: int = NO_MEMORY, **kwargs) -> None:
        super().__init__(shape=shape, leak=leak, dv=dv, reset=reset, spiking=spiking,
                         timesteps=timesteps, stage_index=stage_index, num_samples=num_samples,
                         record=record, current_leak=current_leak, du=du, **kwargs)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=v_init)
        self.v_init = Var(shape=shape, init=v_init)
        self.threshold = Var(shape=shape, init=threshold)
        self.bias = Var(shape=shape, init=bias)
        self.spike_count = Var(shape=shape, init=0)
        steps = num_samples * timesteps if record else 1
        self.spikes = Var(shape=(steps, *shape), init=0)


class Readout(AbstractProcess):
    """Keeps the output stage's potential at the end of every sample's window, or with
    ``counts`` (a spiking readout, whose output is its spike count) adds up the spikes it
    receives in each sample's window."""

    def __init__(self, *, shape: tuple[int, ...], num_samples: int, timesteps: int,
                 latency: int, counts: bool = False, **kwargs) -> None:
        super().__init__(shape=shape, num_samples=num_samples, timesteps=timesteps,
                         latency=latency, counts=counts, **kwargs)
        self.a_in = InPort(shape=shape)
        self.output = Var(shape=(num_samples, *shape), init=0)


class SpecNetwork(AbstractProcess):
    """A whole spec network behind one input and one output port.

    ``stages`` are ``leanspike.loihi`` stages (float) or fixed stages (fixed point); per stage
    k the Vars ``spike_count_k`` (and ``spikes_k`` when recording) hold its neurons' activity.
    """

    def __init__(self, *, stages: list, layouts: list, timesteps: int, num_samples: int,
                 input_bits: int, record: bool = False, **kwargs) -> None:
        super().__init__(stages=stages, layouts=layouts, timesteps=timesteps,
                         num_samples=num_samples, input_bits=input_bits, record=record,
                         **kwargs)
        self.inp = InPort(shape=layouts[0].input_shape)
        self.out = OutPort(shape=layouts[-1].output_shape)
        steps = num_samples * timesteps if record else 1
        for k, layout in enumerate(layouts):
            setattr(self, f"spike_count_{k}", Var(shape=layout.output_shape, init=0))
            setattr(self, f"spikes_{k}", Var(shape=(steps, *layout.output_shape), init=0))


class StreamedSpecNetwork(AbstractProcess):
    """``StreamInput``, ``SpecNetwork`` and ``Readout`` as one Lava process, for the
    single-process models: the same samples at the same steps, the same arithmetic and the same
    readout (``output``, ``spike_count_k``, ``spikes_k``), without Lava's messaging between
    three processes at every step (at T=1 that messaging cost as much as the network)."""

    def __init__(self, *, data: np.ndarray, stages: list, layouts: list, timesteps: int,
                 num_samples: int, input_bits: int, latency: int, counts: bool = False,
                 record: bool = False, **kwargs) -> None:
        super().__init__(stages=stages, layouts=layouts, timesteps=timesteps,
                         num_samples=num_samples, input_bits=input_bits, latency=latency,
                         counts=counts, record=record, **kwargs)
        self.data = Var(shape=data.shape, init=data)
        self.output = Var(shape=(num_samples, *layouts[-1].output_shape), init=0)
        steps = num_samples * timesteps if record else 1
        for k, layout in enumerate(layouts):
            setattr(self, f"spike_count_{k}", Var(shape=layout.output_shape, init=0))
            setattr(self, f"spikes_{k}", Var(shape=(steps, *layout.output_shape), init=0))
