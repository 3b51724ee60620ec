"""Trust a deployment, or see exactly where it breaks: the snnTorch model and the Lava network
run the same inputs and their spikes are compared layer by layer and step by step.

Float backends are compared with the snnTorch model itself. Fixed-point backends compute
something else on purpose (Loihi integers), so their spikes are compared with the torch
emulation of the same integers, and their predictions with snnTorch's float ones. Outputs are
compared in real units: the output potential, or a spiking readout's spike counts times its
amplitude.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from leanspike.adapters.lava.runner import BACKENDS, LavaRun, prepare, run
from leanspike.loihi.emulate import emulate_fixed


@dataclass
class Divergence:
    layer: int            # spec layer index
    step: int             # time step, 1-based
    sample: int
    neuron: tuple[int, ...]  # index in the layer's output shape (torch order)
    expected: bool        # spike in the reference
    got: bool             # spike on Lava

    def __str__(self) -> str:
        return (f"layers[{self.layer}] step {self.step} sample {self.sample} neuron "
                f"{self.neuron}: reference {'spikes' if self.expected else 'silent'}, Lava "
                f"{'spikes' if self.got else 'silent'}")


@dataclass
class VerifyReport:
    backend: str
    reference: str                 # what the spikes were compared with
    num_samples: int
    timesteps: int
    agree: bool                    # every spike of every layer at every step
    first_divergence: Divergence | None
    differing_spikes: dict[int, int]   # per layer, how many (step, sample, neuron) differ
    prediction_agreement: float    # fraction of samples whose prediction equals snnTorch's
    max_output_error: float        # largest |logit difference| to the spike reference
    lava: LavaRun = field(repr=False)

    def __str__(self) -> str:
        head = (f"{self.backend} vs {self.reference}, {self.num_samples} samples x "
                f"{self.timesteps} steps: ")
        if self.agree:
            head += "every spike agrees"
        else:
            head += f"spikes diverge first at {self.first_divergence}"
            head += " (differing: " + ", ".join(
                f"layers[{i}] {n}" for i, n in self.differing_spikes.items() if n) + ")"
        return (head + f"; predictions agree with snnTorch on {self.prediction_agreement:.2%}"
                f"; max |output difference| {self.max_output_error:.3g}")


def first_divergence(expected: dict[int, torch.Tensor], got: dict[int, torch.Tensor]
                     ) -> Divergence | None:
    """The earliest difference in causal order: time step first, then layer, sample, neuron."""
    layers = sorted(expected)
    steps = expected[layers[0]].shape[0] if layers else 0
    for t in range(steps):
        for i in layers:
            diff = expected[i][t] != got[i][t]
            if bool(diff.any()):
                where = tuple(int(v) for v in diff.nonzero()[0])
                return Divergence(i, t + 1, where[0], where[1:],
                                  bool(expected[i][t][where]), bool(got[i][t][where]))
    return None


def verify(source, x: torch.Tensor, *, backend: str = "lava-float", registry=None,
           calibration: torch.Tensor | None = None, snn=None) -> VerifyReport:
    """Run ``x`` through the snnTorch model of ``source`` (or ``snn``, a SpikingNetwork) and
    through Lava on ``backend``; report whether and where their spikes differ."""
    from leanspike.adapters.snntorch import to_snntorch

    fixed, _ = BACKENDS.get(backend, (False, False))
    deployed = prepare(source, registry=registry, fixed=fixed,
                       calibration=x if calibration is None else calibration)
    model = to_snntorch(deployed.spec) if snn is None else snn
    model.eval()
    with torch.no_grad():
        float_out = model.run(x)
    lava = run(deployed.spec, x, backend, deployed=deployed, record=True)
    if fixed:
        ref, _ = emulate_fixed(deployed.fixed, x)
        ref_spikes, ref_out, reference = ref.spikes, ref.output, "its fixed-point emulation"
    else:
        ref_spikes, ref_out, reference = float_out.spikes, float_out.logits, "snnTorch"
    ref_spikes = {i: s.bool() for i, s in ref_spikes.items()}
    got = {i: lava.spikes[i].bool() for i in ref_spikes}
    divergence = first_divergence(ref_spikes, got)
    differing = {i: int((ref_spikes[i] != got[i]).sum()) for i in ref_spikes}
    agreement = float((lava.predictions == float_out.logits.flatten(1).argmax(1))
                      .float().mean())
    error = float((lava.output - ref_out.to(lava.output.dtype)).abs().max())
    return VerifyReport(backend, reference, len(x), deployed.spec.timesteps, divergence is None,
                        divergence, differing, agreement, error, lava)
