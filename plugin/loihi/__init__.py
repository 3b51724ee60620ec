"""Neuromorphic-hardware semantics, framework-neutral: specs folded into synapse + neuron
stages, Loihi 2 fixed point, and a torch emulator of both. The Lava adapter and the netx
writer build on these; nothing here imports Lava."""

from leanspike.loihi.emulate import emulate_fixed, emulate_float
from leanspike.loihi.fixed_point import FixedNetwork, FixedStage, quantize
from leanspike.loihi.snap import snap_to_fixed_point
from leanspike.loihi.stages import Stage, to_stages

__all__ = ["FixedNetwork", "FixedStage", "Stage", "emulate_fixed", "emulate_float", "quantize",
           "snap_to_fixed_point", "to_stages"]
