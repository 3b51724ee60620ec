"""Write a spec's fixed-point network as lava-dl netx HDF5, the file the Loihi 2 toolchain loads.

Needs only h5py (no Lava), so it works on any Python. The file follows what
``lava.lib.dl.netx.hdf5.Network`` reads: groups ``layer/0``, ``layer/1``, ... with ``type``
(input / conv / flatten / dense), ``shape`` (C, H, W order), integer ``weight`` (8-bit
mantissas, as 2m), ``bias`` (mantissas, bias_exp 6) and a ``neuron`` group of CUBA parameters
(iDecay = du, 4096 so the current has no memory unless the layer is current-based, vDecay = dv,
vThMant).

What netx's neuron cannot say: it resets to zero and starts every sample at v = 0. At T = 1
neither matters once the initial potential is moved into the bias (it is added exactly once),
so T = 1 exports are exact (when the decayed initial potential is a whole bias mantissa, as
it always is without leak). At T > 1 a network with reset by subtraction or a non-zero initial
potential is exported with those approximated, and a ``NetxApproximationWarning`` says so.
A current-based layer (snnTorch's Synaptic) keeps its current decay in iDecay, but netx's CUBA
neuron adds the bias to v, where the spec adds it to the current: the two agree at T = 1 (the
current has no past yet) and on a layer without bias; at T > 1 a biased current-based layer is
approximated, with the warning.
The output layer becomes a neuron whose threshold is never reached; read its potential. A
spiking readout (a LIF output layer) is a CUBA layer like the hidden ones, exact under the
same conditions; the file's ``readout`` attribute says to count its spikes per sample (each
worth ``output_scale``, the layer's amplitude) instead.

netx has no pooling layer that lava-dl 0.6.0 loads ("pool" raises NotImplementedError), but a
max pooling of spikes needs none: its pooling population (``leanspike.loihi.stages``) is an
ordinary conv layer of the file, grouped (each channel onto itself) with unit weights, and a
CUBA neuron with threshold half a spike. netx's own neuron resets to zero and starts at 0, which
is exactly that population's, so it is exact at any T.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import torch

from leanspike.atomic import atomic_write
from leanspike.errors import ConfigError
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.stages import residual_join, split_groups, uniform

NEVER_FIRES = (1 << 17) - 1  # the largest vThMant: the output layer only integrates
# the file's ``readout`` attribute: what the output is (files without one are potentials)
READOUT_POTENTIAL = "potential"
READOUT_SPIKES = "spike count"


class NetxApproximationWarning(UserWarning):
    """The netx file's neurons differ from the spec's (reset, initial potential) at T > 1."""


class NetxExportError(ConfigError):
    """The network uses something the netx format cannot express."""


def _string(group: h5py.Group, name: str, value: str) -> None:
    group.create_dataset(name, (1,), f"S{len(value)}", [value.encode("ascii")])


def _torch_to_whc(t: torch.Tensor) -> np.ndarray:
    return t.permute(2, 1, 0).contiguous().numpy() if t.dim() == 3 else t.numpy()


def _layer_decay(fs: fx.FixedStage) -> int | None:
    """The stage's one dv, or None when its neurons' decays differ."""
    if isinstance(fs.dv, int):
        return fs.dv
    same = uniform(fs.dv)
    return None if same is None else int(same)


def netx_differences(net: fx.FixedNetwork) -> list[str]:
    """What the netx file will not reproduce exactly (empty: the export is exact)."""
    notes = []
    for fs in net.stages:
        where = f"layers[{fs.stage.layer_index}]"
        if net.timesteps == 1:
            if bool((fx.decay(fs.v_init, fs.dv) % (1 << fx.ACT_SHIFT) != 0).any()):
                notes.append(f"{where}: the decayed initial potential is not a whole bias "
                             f"mantissa")
            continue
        if fs.spiking and fs.reset != "zero":
            how = "by subtraction" if fs.reset == "subtract" else repr(fs.reset)
            notes.append(f"{where}: reset {how} becomes reset to zero")
        if fs.du != fx.NO_MEMORY and bool(fs.bias_mant.any()):
            notes.append(f"{where}: the bias of a current-based layer joins v, not the current")
        if bool((fs.v_init != 0).any()):
            notes.append(f"{where}: initial potential becomes 0")
    return notes


def write_netx(net: fx.FixedNetwork, path: str | os.PathLike) -> Path:
    """Write ``net`` (from ``leanspike.loihi.quantize``) as a netx HDF5 file, atomically."""
    path = Path(path)
    join = residual_join([fs.stage for fs in net.stages])
    if join is not None:
        raise NetxExportError(f"layers[{join.layer_index}]: a residual join (several synapse "
                              f"groups into one population, or relays on a shortcut); a netx "
                              f"network is a chain of blocks, each fed by the one before, so it "
                              f"cannot express this graph. Deploy it with the Lava backends "
                              f"(lava-fixed, lava-fast-fixed), which run it exactly")
    if net.uses_weight_exponents():
        raise NetxExportError("netx reads weights as plain integers of at most 9 bits; this "
                              "network uses weight exponents (quantise with max_weight_exp=0)")
    for fs in net.stages:
        if fs.spiking and uniform(fs.vth) is None:
            raise NetxExportError(f"layers[{fs.stage.layer_index}]: netx neurons share one "
                                  f"threshold per layer; this layer has per-neuron thresholds")
        if _layer_decay(fs) is None:
            raise NetxExportError(f"layers[{fs.stage.layer_index}]: netx neurons share one "
                                  f"vDecay per layer; this layer has per-neuron leaks")
    notes = netx_differences(net)
    if notes:
        warnings.warn("the netx file approximates the network: " + "; ".join(notes),
                      NetxApproximationWarning, stacklevel=2)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["format"] = "lava-dl netx, written by leanspike"
        f.attrs["timesteps"] = net.timesteps
        f.attrs["input_encoding"] = json.dumps(net.encoding.as_dict())
        f.attrs["output_scale"] = net.output_scale
        f.attrs["readout"] = READOUT_SPIKES if net.spiking_readout else READOUT_POTENTIAL
        layers = f.create_group("layer")
        index = 0

        def new_group(kind: str) -> h5py.Group:
            nonlocal index
            g = layers.create_group(str(index))
            index += 1
            _string(g, "type", kind)
            return g

        g = new_group("input")
        g.create_dataset("shape", data=np.array(net.input_shape, dtype=np.int64))
        previous_kind = None  # the input arrives in the first layer's own order
        for fs in net.stages:
            st = fs.stage
            if st.kind == "dense" and previous_kind == "conv":
                new_group("flatten")
            g = new_group(st.kind)
            g.create_dataset("shape", data=np.array(st.output_shape, dtype=np.int64))
            weight = fs.weight if st.mask is None else fs.weight * st.mask
            weight, groups = split_groups(weight, st.groups)  # Lava keeps groups in an int8
            g.create_dataset("weight", data=weight.numpy().astype(np.int64))
            bias = fs.bias_mant.clone()
            if net.timesteps == 1:
                # u[1] = decay(v_init) + input + bias: the initial potential is one more bias
                bias = bias + (fx.decay(fs.v_init, fs.dv) >> fx.ACT_SHIFT)
            if int(bias.abs().max()) > fx.BIAS_MANT_MAX + 1:
                raise NetxExportError(f"layers[{st.layer_index}]: bias plus initial potential "
                                      f"exceeds the 13-bit bias mantissa")
            if st.kind == "conv":
                per_channel = bias.flatten(1)
                if bool((per_channel == per_channel[:, :1]).all()):
                    g.create_dataset("bias", data=per_channel[:, 0].numpy().astype(np.int64))
                else:
                    g.create_dataset("bias", data=_torch_to_whc(bias).astype(np.int64))
                g.create_dataset("stride", data=np.array(st.stride, dtype=np.int64))
                g.create_dataset("padding", data=np.array(st.padding, dtype=np.int64))
                g.create_dataset("dilation", data=np.array([1, 1], dtype=np.int64))
                g.create_dataset("groups", data=np.int64(groups))
            else:
                g.create_dataset("bias", data=bias.numpy().astype(np.int64))
            n = g.create_group("neuron")
            _string(n, "type", "CUBA")
            n.create_dataset("iDecay", data=np.int64(fs.du))
            n.create_dataset("vDecay", data=np.int64(_layer_decay(fs)))
            vth = int(uniform(fs.vth)) if fs.spiking else NEVER_FIRES
            n.create_dataset("vThMant", data=np.int64(vth))
            n.create_dataset("refDelay", data=np.int64(1))
            n.create_dataset("gradedSpike", data=False)
            previous_kind = st.kind
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path
