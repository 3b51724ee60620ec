"""NIR (the Neuromorphic Intermediate Representation): leanspike specs to and from the format
snnTorch, Norse, Sinabs, SpikingJelly and Rockpool exchange networks in.

``to_nir(spec)`` / ``write_nir(spec, path)`` write a spec; ``from_nir(graph)`` /
``read_nir(path)`` read a graph another tool wrote; once this package is imported a
``nir.NIRGraph`` or a ``.nir`` path is a source of every function that takes a spec (the Lava
runner among them), so a NIR file from any tool runs on Lava float and Loihi fixed point.

How the discrete spec meets NIR's continuous-time neurons (``dynamics``), at the graph's
declared step ``dt`` (``metadata["dt"]``, default 1e-4, snnTorch's):

    spec                          NIR
    leak = 1 - dt/tau             LIF(tau = dt/(1 - leak), r = tau/dt, v_leak = 0)
    leak = 1                      IF(r = 1/dt)
    current_leak = 1 - dt/tau_syn CubaLIF(tau_syn, tau_mem, r = tau_mem/dt, w_in = tau_syn/dt)
    Integrator (output)           I(r = 1/dt), LI(tau, r = tau/dt) or CubaLI
    threshold                     v_threshold (strict: fires when v > v_threshold)
    reset "zero"                  v_reset = 0
    amplitude                     a Scale node after the neuron
    Linear / Conv1d / Conv2d      Affine (Linear: no bias) / Conv1d / Conv2d
    AvgPool2d                     AvgPool2d
    Flatten                       Flatten(start_dim=0), the batch not counted
    inputs (a graph spec)         edges; NIR sums a node's inputs before it acts
    Add with a neuron             that neuron node, taking its currents and shortcut spikes
    Add without one (SEW)         Scale(1), its spike trains summed going into it

Exact through NIR: the above. Refused unless exported with ``strict=False`` (then approximated
for other tools, with an ``NIRApproximationWarning``, and restored exactly by leanspike from the
node metadata): reset "subtract" and "none" (NIR resets to v_reset), a nonzero v_init (NIR has
no initial state), max pooling (NIR has none: SumPool2d). Refused always: a layer mixing leak 1
with decaying neurons, a current-based neuron without membrane decay, 1-D pooling (NIR has no
such node).
"""

from __future__ import annotations

_INSTALL_HINT = ("leanspike.adapters.nir needs the nir package: pip install 'leanspike[nir]'")

try:
    import nir  # noqa: F401
except ImportError as exc:  # pragma: no cover - the project's environment has every extra
    raise ImportError(f"{_INSTALL_HINT} ({exc})") from exc

from leanspike.adapters.nir.dynamics import DEFAULT_DT  # noqa: E402
from leanspike.adapters.nir.export import NIRApproximationWarning, to_nir  # noqa: E402
from leanspike.adapters.nir.files import SUFFIX, read_graph, read_nir, write_nir  # noqa: E402
from leanspike.adapters.nir.ingest import DEFAULT_TIMESTEPS, from_nir  # noqa: E402
from leanspike.adapters.nir.source import nir_source  # noqa: E402
from leanspike.registry.sources import add_source_reader  # noqa: E402

add_source_reader(nir_source)

__all__ = ["DEFAULT_DT", "DEFAULT_TIMESTEPS", "NIRApproximationWarning", "SUFFIX", "from_nir",
           "read_graph", "read_nir", "to_nir", "write_nir"]
