"""A residual graph rewritten with one weighted node per synapse group, as the chip stores it.

``leanspike.loihi.stages`` gives a population one synapse group per spike train that reaches
it, and two kinds of group have no weights of their own in the spec:

- a spike shortcut into a current-add block (``Add(neuron=...)`` taking a block's input
  spikes as they are): unit synapses, each worth the source's amplitude (written as a 1x1
  identity convolution masked to its diagonal, so that only the synapses the chip has count
  and training cannot grow others);
- a layer after a SEW sum (``Add(neuron=None)``): its one weight tensor W serves every summed
  spike train, each group W times that train's amplitude.

On the fixed-point grid every group is quantised in its population's weight unit, so a unit
shortcut becomes round(amplitude / unit) units and the copies of W round apart wherever the
trains' amplitudes differ: values the spec has no field for. ``explicit_groups`` writes the
same network with every group a weighted node of its own (no neuron) feeding an ``Add`` that
carries the population's neuron: a shortcut becomes a 1x1 identity convolution (a dense
identity on flat spikes), and a layer after a SEW sum one copy of its weights per summed train
(its bias on the first). Pools and flattens after a sum are repeated on each train. The
result computes exactly what the original computes (the synapses of each group are the same,
only named), and its stages are the original's stage for stage, group for group, in the same
order; a weight of each group can then be put on the grid on its own
(``leanspike.loihi.snap``). A chain, and a graph already in this form, come back as they are.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from leanspike import spec as S
from leanspike.errors import SpecError


def _identity(shape: tuple[int, ...], dtype: torch.dtype, name: str | None):
    """Unit synapses, each neuron onto its own, for spikes of ``shape``: masked to the
    diagonal, the only synapses there are (training cannot grow the others)."""
    eye = torch.eye(shape[0] if len(shape) > 1 else math.prod(shape), dtype=dtype)
    if len(shape) == 3:
        eye = eye[:, :, None, None]
        return S.Conv2d(eye, mask=eye.clone(), name=name)
    if len(shape) == 2:
        return S.Conv1d(eye[:, :, None], mask=eye[:, :, None].clone(), name=name)
    return S.Linear(eye, mask=eye.clone(), name=name)


def explicit_groups(spec: S.NetworkSpec) -> S.NetworkSpec:
    """The spec with one weighted node per synapse group (see the module docstring)."""
    S.validate(spec)
    if not spec.is_graph:
        return spec
    last = spec.layers[-1]
    if getattr(last, "neuron", None) is None:
        raise SpecError(f"layers[{len(spec.layers) - 1}] ({type(last).__name__}): the output "
                        f"is not a neuron population, which a deployed network ends in")
    shapes = spec.layer_shapes()
    layers: list = []
    changed = False
    # per old node: the spike trains it stands for, each (new node emitting it, old pools and
    # flattens applied since); per old weighted node without a neuron: its new current nodes
    trains: dict[int, list[tuple[int, tuple[int, ...]]]] = {S.INPUT: [(S.INPUT, ())]}
    currents: dict[int, list[int]] = {}
    carried: dict[tuple[int, tuple[int, ...]], int] = {}
    names = {layer.name for layer in spec.layers if layer.name is not None}

    def emit(layer) -> int:
        layers.append(layer)
        return len(layers) - 1

    def fresh(name: str | None, suffix: str) -> str | None:
        """``name`` (or ``name.suffix``) unless a node has it already."""
        if name is None:
            return None
        candidate, n = f"{name}.{suffix}", 1
        while candidate in names:
            candidate, n = f"{name}.{suffix}{n}", n + 1
        names.add(candidate)
        return candidate

    def through(train: tuple[int, tuple[int, ...]]) -> int:
        """The new node carrying a spike train through its pools and flattens (shared by every
        consumer of the same train)."""
        node, ops = train
        for n in range(len(ops)):
            key = (train[0], ops[:n + 1])
            if key not in carried:
                op = spec.layers[ops[n]]
                first = not any(k[1][-1] == ops[n] for k in carried)
                carried[key] = emit(dataclasses.replace(
                    op, inputs=(node,), name=op.name if first else fresh(op.name, "copy")))
            node = carried[key]
        return node

    def copies(weights, source: int, suffix: str) -> list[int]:
        """``weights`` (no neuron) once on each spike train of old node ``source``; the bias on
        the first."""
        nodes = []
        for n, train in enumerate(trains[source]):
            nodes.append(emit(dataclasses.replace(
                weights, inputs=(through(train),), neuron=None,
                weight=weights.weight.clone(),  # tensors of their own: a file holds each once
                mask=None if weights.mask is None else weights.mask.clone(),
                bias=None if n or weights.bias is None else weights.bias.clone(),
                name=fresh(weights.name, f"{suffix}{n}"))))
        return nodes

    for i, layer in enumerate(spec.layers):
        ins = spec.inputs_of(i)
        if isinstance(layer, (*S.AVG_POOLS, S.Flatten)):
            trains[i] = [(node, (*ops, i)) for node, ops in trains[ins[0]]]
        elif isinstance(layer, S.MAX_POOLS):
            if len(trains[ins[0]]) != 1:
                raise SpecError(f"layers[{i}] ({type(layer).__name__}): max pooling of a sum "
                                f"of spike trains is not a spike train, which a Loihi "
                                f"pooling population needs; pool before the sum")
            trains[i] = [(emit(dataclasses.replace(layer, inputs=(through(
                trains[ins[0]][0]),))), ())]
        elif isinstance(layer, S.Add) and layer.neuron is None:
            trains[i] = [t for j in ins for t in trains[j]]
        elif isinstance(layer, S.WEIGHTED):
            if len(trains[ins[0]]) == 1:
                nodes = [emit(dataclasses.replace(layer, inputs=(through(trains[ins[0]][0]),)))]
            else:
                changed = True
                nodes = copies(layer, ins[0], "train")
            if layer.neuron is None:
                currents[i] = nodes
            elif len(nodes) == 1:
                trains[i] = [(nodes[0], ())]
            else:
                trains[i] = [(emit(S.Add(neuron=layer.neuron, inputs=tuple(nodes),
                                         name=layer.name)), ())]
        else:  # an Add that carries the neuron: currents as they are, spike trains made weights
            inputs: list[int] = []
            for j in ins:
                if j in currents:
                    inputs += currents[j]
                    continue
                changed = True
                dtype = next(w.weight.dtype for _, w in spec.weighted_layers())
                shortcut = _identity(tuple(shapes[j]) if j != S.INPUT else spec.input_shape,
                                     dtype, layer.name)
                inputs += copies(shortcut, j, "shortcut")
            trains[i] = [(emit(dataclasses.replace(layer, inputs=tuple(inputs))), ())]
    if not changed:
        return spec
    for k, layer in enumerate(layers):  # a node fed by the one before names no inputs
        if layer.inputs == ((k - 1,) if k else (S.INPUT,)):
            layers[k] = dataclasses.replace(layer, inputs=None)
    out = dataclasses.replace(spec, layers=layers)
    S.validate(out)
    return out
