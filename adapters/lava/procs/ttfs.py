"""The fire-once neuron population of TTFS deployments (``leanspike.adapters.lava.ttfs``):
its Process and its floating-point ProcessModel, beside the spec processes so Lava's model
search finds them in this folder."""

from __future__ import annotations

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from leanspike.adapters.lava.procs.models import guarded, window
from leanspike.stdp.layers import ttfs_step


class TTFSNeuron(AbstractProcess):
    """A population (Lava order X, Y, C) of fire-once IF neurons, optionally with pointwise
    lateral inhibition across C; ``first_spike[j]`` holds each neuron's spike step in sample
    j's window, -1 if it stayed silent."""

    def __init__(self, *, shape: tuple[int, int, int], threshold: float, inhibition: bool,
                 timesteps: int, stage_index: int, num_samples: int, **kwargs) -> None:
        super().__init__(shape=shape, threshold=threshold, inhibition=inhibition,
                         timesteps=timesteps, stage_index=stage_index, num_samples=num_samples,
                         **kwargs)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v = Var(shape=shape, init=0)
        self.fired = Var(shape=shape, init=False)
        self.blocked = Var(shape=(*shape[:-1], 1), init=False)
        self.first_spike = Var(shape=(num_samples, *shape), init=-1)


@implements(proc=TTFSNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyTTFSNeuronFloat(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    fired: np.ndarray = LavaPyType(np.ndarray, bool)
    blocked: np.ndarray = LavaPyType(np.ndarray, bool)
    first_spike: np.ndarray = LavaPyType(np.ndarray, np.int32)

    @guarded
    def run_spk(self) -> None:
        p = self.proc_params
        a = np.asarray(self.a_in.recv(), dtype=np.float64)
        j, tau = window(self.time_step, p["stage_index"], p["timesteps"])
        if j >= 0 and tau == 0:  # a new sample: potential 0, nobody has fired
            self.v[:] = 0.0
            self.fired[:] = False
            self.blocked[:] = False
        v, fired, blocked, s = ttfs_step(
            torch.from_numpy(self.v.copy()), torch.from_numpy(self.fired.copy()),
            torch.from_numpy(self.blocked.copy()), torch.from_numpy(a), p["threshold"],
            p["inhibition"], channel_dim=-1)
        self.v[:], self.fired[:], self.blocked[:] = v.numpy(), fired.numpy(), blocked.numpy()
        s = s.numpy()
        if 0 <= j < p["num_samples"]:
            self.first_spike[j][s] = tau
        self.s_out.send(s.astype(np.float64))
