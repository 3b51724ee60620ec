"""Stream many samples through one Lava run and read back logits and spike counts.

Each sample gets exactly T steps of network time; the neurons reset at the start of each of
their windows and the readout takes the output potential when a window closes, L steps
(one per synapse) after the input was sent (a spiking readout: counts the output spikes of
the window). The runtime is stopped however the run ends
(errors, Ctrl-C), which also ends Lava's worker processes; Ctrl-C is the parent's alone to
handle (``_sigint_deferred``), so it ends a run with one KeyboardInterrupt in the caller and
no traceback from a worker.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from leanspike.adapters.lava.layout import StageLayout
from leanspike.errors import ConfigError
from leanspike.loihi import fixed_point as fx
from leanspike.loihi.alignment import latency
from leanspike.loihi.backends import LAVA_BACKENDS
from leanspike.loihi.stages import Stage, count_output, to_stages
from leanspike.registry.sources import resolve_spec
from leanspike.spec import NetworkSpec

with contextlib.suppress(ImportError):  # where the nir extra is installed, a NIR graph or .nir
    import leanspike.adapters.nir  # noqa: F401  file is a source (it registers its reader)

# backend name -> (fixed point, single-process model); the table is the core's, so the CLI can
# offer the names without importing Lava
BACKENDS = LAVA_BACKENDS


@dataclass
class LavaRun:
    """What a Lava run gives back, in torch order and real units."""

    backend: str
    output: torch.Tensor                      # [N, *output_shape] logits
    spike_counts: dict[int, torch.Tensor]     # spec layer index -> spikes per neuron, all samples
    seconds: float
    steps: int
    num_samples: int
    raw_output: torch.Tensor | None = None    # fixed point: the output potential's integers,
                                              # or a spiking readout's spike counts
    spikes: dict[int, torch.Tensor] = field(default_factory=dict)  # [T, N, ...] when recorded

    @property
    def predictions(self) -> torch.Tensor:
        return self.output.flatten(1).argmax(1)

    @property
    def samples_per_s(self) -> float:
        return self.num_samples / self.seconds if self.seconds > 0 else float("inf")

    def spikes_per_neuron(self) -> dict[int, float]:
        """Mean spikes per neuron per sample, per spiking layer (as SimulationResult's)."""
        return {i: float(c.sum()) / (c.numel() * self.num_samples)
                for i, c in self.spike_counts.items()}


@dataclass
class DeployedNetwork:
    """A spec prepared for Lava: float stages, and the fixed-point network where used."""

    spec: NetworkSpec
    stages: list[Stage]
    fixed: fx.FixedNetwork | None = None

    @property
    def layouts(self) -> list[StageLayout]:
        return [StageLayout.of(s) for s in self.stages]


def prepare(source, *, registry=None, fixed: bool = False, calibration: torch.Tensor | None = None,
            input_range: float | None = None, input_bits: int | None = None,
            fixed_network: fx.FixedNetwork | None = None) -> DeployedNetwork:
    """Fold the spec into stages (failing on bad specs before any Lava process exists) and,
    for fixed point, quantise with the input range of ``calibration`` or ``input_range`` into
    ``input_bits``-bit graded input spikes (default: what a snapped spec was snapped with, else
    8). A snapped spec keeps the weight units it was snapped with, so it deploys as the
    integers its snnTorch twin stands for."""
    spec = resolve_spec(source, registry).validate()
    stages = to_stages(spec)
    if fixed and fixed_network is None:
        recorded = (spec.metadata.get("fixed_point") or {}).get("input_bits")
        bits = input_bits if input_bits is not None else int(recorded or 8)
        fixed_network = fx.quantize(stages, calibration, timesteps=spec.timesteps,
                                    input_range=input_range, input_bits=bits,
                                    pinned=fx.pinned_units(spec.metadata, stages))
    return DeployedNetwork(spec, stages, fixed_network if fixed else None)


@contextlib.contextmanager
def _torch_single_threaded():
    """Lava forks its workers, and torch's thread pool does not survive a fork: a worker's
    first multi-threaded op (Lava's own Conv uses torch) deadlocks. One thread while Lava's
    processes start and run avoids it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _sigint_deferred():
    """Hold Ctrl-C back while Lava starts or stops its workers, and keep it from the workers.

    Ctrl-C in a terminal signals the whole process group: every worker died printing its own
    KeyboardInterrupt traceback, and a KeyboardInterrupt in the parent in the middle of a fork
    (inside an at-fork hook holding logging's lock) left Lava's start hung. In this block SIGINT
    is only noted, and workers forked here inherit the handler, so they ignore Ctrl-C for good
    (the parent ends them). On leaving, the parent's own handler is back and a noted Ctrl-C is
    raised again there and then. Handlers can be set from the main thread only; elsewhere, or
    under a handler not set from Python, nothing changes."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    parent, noted = os.getpid(), []

    def note(signum, frame):
        if os.getpid() == parent:
            noted.append(signum)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if noted:
            signal.raise_signal(signal.SIGINT)


def _started_runtime(process):
    """The runtime of ``process`` if Lava got as far as creating its processes, else None."""
    runtime = process.runtime
    if runtime is None or getattr(runtime, "_messaging_infrastructure", None) is None:
        return None
    return runtime


class LavaRunError(RuntimeError):
    """A Lava worker process failed; the run was torn down."""


def _kill(runtime) -> None:
    """Tear a runtime down without its cooperation (a worker died or the user pressed Ctrl-C):
    terminate every worker, release the shared memory, mark the runtime stopped."""
    import multiprocessing

    infrastructure = runtime._messaging_infrastructure
    with _sigint_deferred():  # a second Ctrl-C must not leave workers behind
        for actor in infrastructure.actors:
            with contextlib.suppress(Exception):
                if actor.is_alive():
                    actor.terminate()
                multiprocessing.Process.join(actor, 5)  # Lava's own join() takes no timeout
        with contextlib.suppress(Exception):
            infrastructure.smm.shutdown()
        with contextlib.suppress(Exception):
            runtime._watchdog_manager.stop()
        runtime._is_running = runtime._is_started = False


def stop(process) -> None:
    """Stop a run's runtime the ordinary way, unless it was already torn down (or never
    started); torn down if stopping fails."""
    runtime = process.runtime
    if runtime is not None and runtime._is_started:
        try:
            with _sigint_deferred():
                process.stop()
        except BaseException:
            if runtime._is_started:
                _kill(runtime)
            raise


@contextlib.contextmanager
def stopped_after(process):
    """Stop the run of ``process`` when the block ends: the ordinary way if the block succeeded,
    torn down if it raised (Ctrl-C included): Lava's own stop would wait on workers that may be
    in the middle of an answer, for ever."""
    try:
        yield
    except BaseException:
        runtime = _started_runtime(process)
        if runtime is not None and runtime._is_started:
            _kill(runtime)
        raise
    stop(process)


def execute(process, steps: int, run_config) -> float:
    """Run ``steps`` steps of the network ``process`` belongs to; return wall seconds.

    Lava's own wait, on an error, joins every worker while the healthy ones wait on their
    channels for ever, so a failing ProcessModel hangs it. Here the runtime services' answers
    are polled instead, and the runtime is torn down on an error answer, a dead worker, Ctrl-C
    or anything else (a Ctrl-C while the workers are forked counts once they are). A run that
    ends normally is stopped by the caller (``stopped_after``).
    """
    import multiprocessing

    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.runtime.mgmt_token_enums import MGMT_RESPONSE, enum_equal

    from leanspike.adapters.lava.procs.models import report_failures_to

    failures = multiprocessing.get_context("fork").SimpleQueue()
    report_failures_to(failures)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), _torch_single_threaded():
        try:
            executable = None
            if process.runtime is None:
                executable = process.compile(run_config)  # forks nothing: Ctrl-C as usual
            with _sigint_deferred():
                if executable is not None:
                    process.create_runtime(executable=executable)  # forks the workers
                process.run(condition=RunSteps(num_steps=steps, blocking=False))
        except BaseException:  # Ctrl-C or an error while Lava was starting its workers
            runtime = _started_runtime(process)
            if runtime is not None:
                _kill(runtime)
            failures.close()
            raise
        finally:
            report_failures_to(None)  # the workers have their copy; the parent needs none
        runtime = process.runtime
        try:
            pending = list(runtime.service_to_runtime)
            while pending:
                if not failures.empty():
                    raise LavaRunError(f"the Lava run failed in {failures.get()}")
                ready = [port for port in pending if port.probe()]
                for port in ready:
                    answer = port.recv()
                    if not enum_equal(answer, MGMT_RESPONSE.DONE):
                        raise LavaRunError("a Lava process model failed (see its traceback "
                                           "above); the run was stopped")
                    pending.remove(port)
                if not ready:
                    if any(a.exitcode not in (None, 0)
                           for a in runtime._messaging_infrastructure.actors):
                        raise LavaRunError("a Lava worker process died; the run was stopped")
                    time.sleep(0.002)
            runtime._is_running = False
        except BaseException:
            _kill(runtime)
            raise
        finally:
            failures.close()
    return time.perf_counter() - start


def _run_config(fixed: bool, fast: bool, num_stages: int):
    from lava.magma.core.run_configs import Loihi2SimCfg

    from leanspike.adapters.lava.procs.models import fast_network_model
    from leanspike.adapters.lava.procs.process import StreamedSpecNetwork
    exceptions = ({StreamedSpecNetwork: fast_network_model(fixed, num_stages)}
                  if fast else {})
    return Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt",
                        select_sub_proc_model=True, exception_proc_model_map=exceptions)


def run(source, x: torch.Tensor, backend: str = "lava-float", *, registry=None,
        calibration: torch.Tensor | None = None, input_range: float | None = None,
        deployed: DeployedNetwork | None = None, record: bool = False) -> LavaRun:
    """Run a batch of samples ``x`` [N, *input_shape] through a Lava network built from
    ``source`` (spec, entry, reference or folder). Fixed-point backends quantise the inputs
    with the range of ``calibration`` (default: ``x`` itself) unless ``deployed`` is given.
    ``record`` keeps every spike (for ``verify``); counts are always kept."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown Lava backend {backend!r}; known: {', '.join(BACKENDS)}")
    fixed, fast = BACKENDS[backend]
    if deployed is None:
        deployed = prepare(source, registry=registry, fixed=fixed,
                           calibration=x if calibration is None else calibration,
                           input_range=input_range)
    elif fixed and deployed.fixed is None:
        raise ConfigError(f"backend {backend!r} needs a fixed-point network; prepare(..., "
                          f"fixed=True)")
    spec = deployed.spec
    if tuple(x.shape[1:]) != tuple(spec.input_shape):
        raise ConfigError(f"input shape {tuple(x.shape[1:])} does not match the spec's "
                          f"input_shape {spec.input_shape}")
    if len(x) == 0:
        raise ConfigError("no samples to run")
    layouts = deployed.layouts
    stages = deployed.fixed.stages if fixed else deployed.stages
    timesteps, n = spec.timesteps, len(x)
    data = deployed.fixed.quantize_input(x) if fixed else x.to(torch.float64)
    data = layouts[0].inputs_to_lava(data)
    data = data.astype(np.int32) if fixed else data

    from leanspike.adapters.lava.procs.process import (
        Readout,
        SpecNetwork,
        StreamedSpecNetwork,
        StreamInput,
    )
    from leanspike.adapters.lava.procs.shared import SharedVars

    # what is read back after the run, in memory the workers share (``procs.shared``)
    read = [k for k, stage in enumerate(deployed.stages)
            if stage.spiking and not stage.relay]  # a relay's spikes are its source's
    plan = {"output": ((n, *layouts[-1].output_shape), np.int64 if fixed else np.float64)}
    for k in read:
        plan[f"spike_count_{k}"] = (layouts[k].output_shape, np.int64)
        if record:
            plan[f"spikes_{k}"] = ((n * timesteps, *layouts[k].output_shape), bool)
    table = SharedVars(plan)

    def value(name: str, var):
        shared = table.read(name)
        return var.get() if shared is None else shared

    spiking_readout = deployed.stages[-1].spiking
    hops = latency(deployed.stages)  # len(stages) in a chain
    input_bits = deployed.fixed.input_bits if fixed else 0
    if fast:  # input, network and readout in one Lava process: no messaging between them
        network = source_proc = readout = StreamedSpecNetwork(
            data=data, stages=stages, layouts=layouts, timesteps=timesteps, num_samples=n,
            input_bits=input_bits, latency=hops, counts=spiking_readout, record=record,
            shared=table.key)
    else:
        source_proc = StreamInput(data=data, timesteps=timesteps)
        network = SpecNetwork(stages=stages, layouts=layouts, timesteps=timesteps,
                              num_samples=n, input_bits=input_bits, record=record,
                              shared=table.key)
        readout = Readout(shape=layouts[-1].output_shape, num_samples=n, timesteps=timesteps,
                          latency=hops, counts=spiking_readout, shared=table.key)
        source_proc.s_out.connect(network.inp)
        network.out.connect(readout.a_in)
    steps = n * timesteps + hops
    with table, stopped_after(source_proc):
        seconds = execute(source_proc, steps, _run_config(fixed, fast, len(stages)))
        raw = value("output", readout.output)
        counts, recorded = {}, {}
        for k in read:
            stage, layout = deployed.stages[k], layouts[k]
            counts[stage.layer_index] = layout.neurons_from_lava(
                value(f"spike_count_{k}", getattr(network, f"spike_count_{k}"))
                .astype(np.int64)).reshape(stage.layer_shape)
            if record:
                s = layout.neurons_from_lava(
                    value(f"spikes_{k}", getattr(network, f"spikes_{k}")).astype(bool))
                recorded[stage.layer_index] = (s.reshape(n, timesteps, *stage.layer_shape)
                                               .transpose(0, 1).to(torch.float32))
    out = layouts[-1].neurons_from_lava(raw.reshape(n, *layouts[-1].output_shape))
    out = out.reshape(n, *deployed.stages[-1].layer_shape)
    raw_out = None
    if fixed:
        raw_out = out.to(torch.int64)
        out = deployed.fixed.real_output(raw_out)
    elif spiking_readout:
        out = count_output(out, deployed.stages[-1].amplitude)
    return LavaRun(backend, out.to(torch.float32), counts, seconds, steps, n, raw_out, recorded)
