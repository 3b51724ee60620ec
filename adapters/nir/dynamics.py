"""NIR's continuous-time neurons as the spec's discrete steps, and back.

NIR writes neurons as differential equations; every NIR tool that runs them in steps (nirtorch,
snnTorch, Norse) integrates them with forward Euler at a step ``dt``. For a LIF node
(``tau dv/dt = (v_leak - v) + r I``) one step is

    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) v_leak + (dt r / tau) I[t]

so the spec's ``leak`` is ``1 - dt/tau``, the input gain ``dt r / tau`` and the constant drive
``(dt/tau) v_leak``. IF (``dv/dt = r I``) and I have leak 1 and gain ``dt r``. A CubaLIF
(``tau_syn dI/dt = -I + w_in S``) adds the current ``i[t] = (1 - dt/tau_syn) i[t-1] +
(dt/tau_syn) w_in S[t]``, which feeds ``v[t]`` on the same step (snnTorch's Synaptic order, as
the spec's): ``current_leak = 1 - dt/tau_syn`` and the gain is the product of both.

Written the other way, ``tau = dt / (1 - leak)`` and ``r = tau / dt`` (``w_in = tau_syn / dt``)
make every gain 1: the convention snnTorch's ``export_to_nir`` writes (at dt = 1e-4, the step
its ``import_from_nir`` assumes), so a graph that declares no dt still implies one.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DT = 1e-4  # snnTorch's step: its import_from_nir reads LIF time constants with it
UNIT_GAIN_RTOL = 1e-6  # a gain this close to 1 is 1 (float32 rounding of tau and r)


def tau_of(leak: np.ndarray, dt: float) -> np.ndarray:
    """The time constant whose Euler step at ``dt`` decays by ``leak`` (leak < 1)."""
    return dt / (1.0 - np.asarray(leak, dtype=np.float64))


def leak_of(tau: np.ndarray, dt: float) -> np.ndarray:
    """The per-step decay of a time constant at step ``dt``."""
    return 1.0 - dt / np.asarray(tau, dtype=np.float64)


def unit_gain(gain: np.ndarray) -> bool:
    return bool(np.all(np.abs(np.asarray(gain, dtype=np.float64) - 1.0) <= UNIT_GAIN_RTOL))


def implied_dt(node) -> np.ndarray:
    """The step at which ``node``'s input gain is 1 (the unit-gain convention), per neuron."""
    import nir

    if isinstance(node, (nir.IF, nir.I)):
        return 1.0 / np.asarray(node.r, dtype=np.float64)
    if isinstance(node, (nir.LIF, nir.LI)):
        return np.asarray(node.tau, dtype=np.float64) / np.asarray(node.r, dtype=np.float64)
    # CubaLIF / CubaLI: r = tau_mem / dt and w_in = tau_syn / dt
    return np.concatenate([
        (np.asarray(node.tau_mem, np.float64) / np.asarray(node.r, np.float64)).ravel(),
        (np.asarray(node.tau_syn, np.float64) / np.asarray(node.w_in, np.float64)).ravel()])
