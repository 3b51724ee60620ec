"""Run a netx HDF5 file with lava-dl's own ``netx.hdf5.Network``: the reference for what the
Loihi 2 toolchain will see, fed and read the same way as leanspike's own Lava networks."""

from __future__ import annotations

import contextlib
import io
import json
import os

import h5py
import numpy as np
import torch

from leanspike.adapters.lava.runner import LavaRun, execute, stopped_after
from leanspike.adapters.netx import READOUT_POTENTIAL, READOUT_SPIKES
from leanspike.errors import ConfigError
from leanspike.loihi.fixed_point import InputEncoding
from leanspike.loihi.stages import count_output


def _file_info(path) -> dict:
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        layers = f["layer"]
        types = [layers[str(i)]["type"][0].decode() for i in range(len(layers))]
        shapes = {i: tuple(layers[str(i)]["shape"][()]) for i in range(len(layers))
                  if "shape" in layers[str(i)]}
        sparse = any("weight" in layers[str(i)] and (layers[str(i)]["weight"][()] == 0).mean()
                     > 0.5 for i in range(len(layers)) if types[i] == "dense")
    return dict(attrs=attrs, types=types, shapes=shapes, sparse=sparse)


def run_netx(path: str | os.PathLike, x: torch.Tensor, *, timesteps: int | None = None,
             encoding: InputEncoding | None = None) -> LavaRun:
    """Run ``x`` [N, *input_shape] (analog; encoded as the file's attributes say) through
    lava-dl netx's network from ``path`` in Lava's fixed point, one sample per T steps.

    Output: the last layer's potential at the end of each window, in v units scaled by the
    file's ``output_scale``, or when the file's ``readout`` says so (a spiking readout) the
    last layer's spikes counted per window, each worth ``output_scale``. Hidden layers' spike
    counts are not read (netx blocks do not count)."""
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.monitor.process import Monitor

    from leanspike.adapters.lava.layout import StageLayout
    from leanspike.adapters.lava.procs.process import Readout, StreamInput
    from leanspike.adapters.lava.procs.shared import SharedVars

    info = _file_info(path)
    attrs = info["attrs"]
    timesteps = int(attrs.get("timesteps", 0)) if timesteps is None else timesteps
    if encoding is None:
        if "input_encoding" not in attrs:
            raise ConfigError(f"{path}: no input encoding in the file; pass encoding")
        encoding = InputEncoding.from_dict(json.loads(attrs["input_encoding"]))
    if timesteps < 1:
        raise ConfigError(f"{path}: the number of time steps is not in the file; pass timesteps")
    xq = encoding.encode(x)
    input_bits = encoding.bits
    first = next(t for t in info["types"] if t not in ("input", "flatten"))
    layout = StageLayout("conv" if first == "conv" else "dense", (), (), ())
    data = layout.inputs_to_lava(xq).astype(np.int32)
    n = len(x)
    with contextlib.redirect_stdout(io.StringIO()):
        net = Network(net_config=str(path), reset_interval=timesteps, reset_offset=1,
                      input_message_bits=input_bits, sparse_fc_layer=info["sparse"])
    source = StreamInput(data=data, timesteps=timesteps)
    source.s_out.connect(net.inp)
    latency = len(net.layers)
    steps = n * timesteps + latency
    scale = float(attrs.get("output_scale", 1.0))
    if _readout(attrs) == READOUT_SPIKES:
        # netx's network sends the last layer's spikes: counted per window as leanspike's own
        # Lava networks count a spiking readout's, and read back the same way (shared memory)
        table = SharedVars({"output": ((n, *net.out.shape), np.int64)})
        readout = Readout(shape=net.out.shape, num_samples=n, timesteps=timesteps,
                          latency=latency, counts=True, shared=table.key)
        net.out.connect(readout.a_in)
        with table, stopped_after(source):
            seconds = execute(source, steps, Loihi2SimCfg(select_tag="fixed_pt"))
            counts = table.read("output")
            counts = readout.output.get() if counts is None else counts
        raw = torch.from_numpy(np.asarray(counts).reshape(n, -1).astype(np.int64))
        out = count_output(raw, scale)
        return LavaRun("netx", out, {}, seconds, steps, n, raw)
    monitor = Monitor()
    monitor.probe(net.layers[-1].neuron.v, steps)
    with stopped_after(source):
        seconds = execute(source, steps, Loihi2SimCfg(select_tag="fixed_pt"))
        trace = monitor.get_data()[net.layers[-1].neuron.name]["v"]
    trace = np.asarray(trace).reshape(steps, -1)
    ends = [j * timesteps + timesteps + latency - 1 for j in range(n)]  # 0-based rows
    raw = torch.from_numpy(trace[ends].astype(np.int64))
    out = raw.to(torch.float64) * scale
    return LavaRun("netx", out.to(torch.float32), {}, seconds, steps, n, raw)


def _readout(attrs: dict) -> str:
    """What the file's output is; h5py may give the attribute back as bytes."""
    value = attrs.get("readout", READOUT_POTENTIAL)
    value = value.decode() if isinstance(value, bytes) else str(value)
    if value not in (READOUT_POTENTIAL, READOUT_SPIKES):
        raise ConfigError(f"unknown netx readout {value!r}; known: {READOUT_POTENTIAL!r}, "
                          f"{READOUT_SPIKES!r}")
    return value
