"""Paths of different lengths on a pipelined back-end: relay populations that align them.

On Lava (and on the chip) every synapse delays by one step, so a population ``d`` hops from
the input sees step tau of a sample at time tau + d + 1. In a chain every group's source is
one hop closer; in a residual network a shortcut skips hops, and the two inputs of a block's
output population would arrive at different steps: the sum would add step tau of one path
to step tau - 2 of the other, a different network.

``aligned`` makes every synapse group's source sit exactly one hop before its population,
by inserting relay populations on the shorter path: unit synapses, threshold half a spike,
reset to zero and no leak, so a relay's potential is its input spike and it fires exactly
when its source fired one step earlier, in float and in Loihi integers alike (the pooling
population of ``leanspike.loihi.stages`` with a 1x1 window). Relays are marked
(``Stage.relay``) and report no spikes of their own; they cost neurons and synapses, no
precision. A same-step back-end (the torch emulation) passes a relay's spikes on in the same
step, so it runs aligned and unaligned stages alike.

Stages are ``leanspike.loihi.stages.Stage`` (which builds them aligned, so this module does not
import it). Relays carry spikes only: a path from the analog input that skips hops cannot be delayed
this way (graded input is not a spike train), and is refused.
"""

from __future__ import annotations

import dataclasses

import torch

from leanspike import spec as S
from leanspike.errors import SpecError

RELAY_THRESHOLD = 0.5  # in units of one incoming spike: the one spike fires it


def depths(stages: list) -> list[int]:
    """Hops from the input to each stage's neurons (0 for the first): one more than the
    deepest source of any of its synapse groups."""
    out: list[int] = []
    for k, stage in enumerate(stages):
        out.append(1 + max(out[g.source] if g.source != S.INPUT else -1
                           for g in stage.synapse_groups(k)))
    return out


def latency(stages: list) -> int:
    """Steps from a sample's first input step to the output population's first step."""
    return depths(stages)[-1] + 1


def _relay(of, source: int):
    """A population that fires one step after the stage ``of`` (listed as ``source``) did."""
    shape = tuple(of.output_shape)
    zeros = torch.zeros(shape, dtype=torch.float64)
    if of.kind == "conv":
        c = shape[0]
        weight = torch.ones(c, 1, 1, 1, dtype=torch.float64)
        geometry = dict(kind="conv", groups=c)
    else:
        n = zeros.numel()
        weight = torch.eye(n, dtype=torch.float64)
        geometry = dict(kind="dense", groups=1)
    return dataclasses.replace(
        of, input_shape=shape, output_shape=shape, weight=weight, mask=None, stride=(1, 1),
        padding=(0, 0), bias=zeros, spiking=True,
        threshold=torch.full(shape, RELAY_THRESHOLD, dtype=torch.float64), leak=1.0,
        reset="zero", v_init=zeros.clone(), current_leak=0.0, source=source,
        extra_synapses=(), relay=True, **geometry)


def aligned(stages: list, spec: S.NetworkSpec | None = None) -> list:
    """The stages with relay populations wherever a synapse group's source is more than one
    hop before its population; chains come back as they are. Sources are renumbered to the
    new list, which stays in an order where every source comes first."""
    depth = depths(stages)
    if all(depth[k] == 1 + (depth[g.source] if g.source != S.INPUT else -1)
           for k, st in enumerate(stages) for g in st.synapse_groups(k)):
        return stages
    out: list = []
    new_index: dict[int, int] = {}
    relays: dict[tuple[int, int], int] = {}  # (old source, steps of delay) -> new index

    def delayed(source: int, steps: int) -> int:
        if steps == 0:
            return new_index[source]
        key = (source, steps)
        if key not in relays:
            before = delayed(source, steps - 1)
            out.append(_relay(out[before], before))
            relays[key] = len(out) - 1
        return relays[key]

    for k, stage in enumerate(stages):
        groups = []
        for g in stage.synapse_groups(k):
            if g.source == S.INPUT:
                if depth[k] != 0:
                    raise SpecError(_skips_input(stage, spec))
                groups.append(g)
                continue
            groups.append(dataclasses.replace(
                g, source=delayed(g.source, depth[k] - 1 - depth[g.source])))
        own = groups[0]
        out.append(dataclasses.replace(stage, source=own.source,
                                       extra_synapses=tuple(groups[1:])))
        new_index[k] = len(out) - 1
    return out


def _skips_input(stage, spec: S.NetworkSpec | None) -> str:
    where = f"layers[{stage.layer_index}]"
    if spec is not None:
        layer = spec.layers[stage.layer_index]
        where += f" ({type(layer).__name__}{f' {layer.name!r}' if layer.name else ''})"
    return (f"{where} receives the network's analog input past other layers (a shortcut from "
            f"the input): on a pipelined back-end its paths must be aligned by relay "
            f"populations, which carry spikes only; start the network with a neuron layer "
            f"before the first branch")
