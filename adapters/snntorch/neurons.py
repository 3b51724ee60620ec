"""snnTorch neurons that realise the network spec's dynamics exactly.

snnTorch's ``snn.Leaky`` by default applies a subtractive reset one step late
(``reset_delay=True``) and, with ``reset_delay=False``, subtracts again before firing when the
previous membrane potential was still above threshold. The spec (``leanspike.spec``) fires on
``u > threshold`` and resets on the same step, starting from ``v_init``. These subclasses keep
everything users know from ``snn.Leaky`` (``beta``, ``threshold``, ``spike_grad``,
``graded_spikes_factor``, ``learn_beta``/``learn_threshold``, ``reset_mem``) and change only the
state update. State is explicit: ``forward(input_, mem) -> (spk, mem)``.

Because the state is explicit, these neurons stay out of snnTorch's class-wide
``SpikingNeuron.instances`` list (see ``_unregister``): a network and its neurons are freed as
soon as the network is, and ``torch.save(network)`` works with the default surrogate.
"""

from __future__ import annotations

import snntorch as snn
import snntorch.surrogate
import torch

from leanspike.adapters.snntorch.surrogates import threshold_relative_spike


def _tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(torch.float32)
    return torch.tensor(float(value))


def in_unit_interval(x: torch.Tensor) -> torch.Tensor:
    """``x`` clamped to [0, 1] with a gradient of 1 on the bounds too: a leak of exactly 1
    (an IF neuron) must still learn. torch's clamp passed it on the bounds up to 2.x and gives
    0 there from 2.14 on (pytorch/pytorch#184574), which froze learnable leaks at 1."""
    return torch.where((x >= 0) & (x <= 1), x, x.detach().clamp(0, 1))


def _unregister(neuron: snn.SpikingNeuron) -> None:
    """Take ``neuron`` out of ``snn.SpikingNeuron.instances``, where snnTorch appends every neuron
    it constructs and never removes one, so every network ever built stayed alive.

    snnTorch uses the list only for state kept on the module (``init_hidden=True``):
    ``snn.utils.reset`` and ``Leaky.reset_hidden``/``detach_hidden`` zero or detach each listed
    neuron's ``mem``. Ours keep no state there (it is passed in and returned), so leaving them
    out loses nothing, and ``reset_mem()`` on a neuron itself still works."""
    instances = snn.SpikingNeuron.instances
    for i in range(len(instances) - 1, -1, -1):  # it was appended last, barring other threads
        if instances[i] is neuron:
            del instances[i]
            return


class ATanSurrogate:
    """snnTorch's default surrogate, ``surrogate.atan(alpha)``, as a picklable object: the
    closure snnTorch returns made ``torch.save(network)`` fail."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = float(alpha)

    def __call__(self, mem_shift: torch.Tensor) -> torch.Tensor:
        return snntorch.surrogate.ATan.apply(mem_shift, self.alpha)

    def __repr__(self) -> str:
        return f"ATanSurrogate(alpha={self.alpha})"


class SpecLeaky(snn.Leaky):
    """A LIF layer of the spec: u = beta*u + I; s = u > threshold; reset on the same step.

    The reset signal is detached from the graph, as in snnTorch, so BPTT gradients flow through
    the membrane and the surrogate only; the threshold still learns through the reset term.
    ``surrogate`` ("rectangular" or "triangular", see ``surrogates``) selects a threshold-relative
    surrogate; otherwise ``spike_grad`` (any snnTorch surrogate, default atan) is used.
    """

    def __init__(self, beta: float = 1.0, threshold=1.0, *, reset_mechanism: str = "subtract",
                 amplitude: float = 1.0, v_init=0.0, spike_grad=None, surrogate: str | None = None,
                 learn_beta: bool = False, learn_threshold: bool = False):
        if reset_mechanism not in ("subtract", "zero", "none"):
            raise ValueError(f"reset_mechanism must be 'subtract', 'zero' or 'none', "
                             f"got {reset_mechanism!r}")
        super().__init__(beta=_tensor(beta), threshold=_tensor(threshold),
                         spike_grad=ATanSurrogate() if spike_grad is None else spike_grad,
                         learn_beta=learn_beta, learn_threshold=learn_threshold,
                         reset_mechanism=reset_mechanism, graded_spikes_factor=float(amplitude),
                         reset_delay=False)
        _unregister(self)
        self.register_buffer("v_init", _tensor(v_init))
        self.surrogate = surrogate

    def init_mem(self, like: torch.Tensor) -> torch.Tensor:
        """The membrane potential before the first step: v_init, broadcast to the layer."""
        return torch.zeros_like(like) + self.v_init.to(like)

    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):
        if mem is None or mem.shape != input_.shape:  # snnTorch's init_leaky() gives an empty mem
            mem = self.init_mem(input_)
        mem = in_unit_interval(self.beta) * mem + input_
        if self.surrogate is None:
            spk = self.fire(mem)  # spike_grad(mem - threshold) * graded_spikes_factor
        else:
            spk = threshold_relative_spike(mem, self.threshold, self.surrogate) \
                * self.graded_spikes_factor
        fired = (mem > self.threshold).to(mem.dtype).detach()
        if self.reset_mechanism == "subtract":
            mem = mem - fired * self.threshold
        elif self.reset_mechanism == "zero":
            mem = mem * (1.0 - fired)
        return spk, mem


class SpecIntegrator(snn.Leaky):
    """The spec's output layer: u = beta*u + I, never fires; u after T steps is the logit."""

    def __init__(self, beta: float = 1.0, *, v_init=0.0, learn_beta: bool = False):
        super().__init__(beta=_tensor(beta), threshold=1.0, spike_grad=ATanSurrogate(),
                         learn_beta=learn_beta, reset_mechanism="none")
        _unregister(self)
        self.register_buffer("v_init", _tensor(v_init))

    def init_mem(self, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(like) + self.v_init.to(like)

    def forward(self, input_: torch.Tensor, mem: torch.Tensor | None = None):
        if mem is None or mem.shape != input_.shape:  # snnTorch's init_leaky() gives an empty mem
            mem = self.init_mem(input_)
        mem = in_unit_interval(self.beta) * mem + input_
        return torch.zeros_like(mem), mem


class _CurrentBased:
    """The spec's current state (``current_leak``, snnTorch Synaptic's ``alpha``): the input
    feeds i = alpha*i + I, which feeds the membrane; a spike never resets it.
    ``forward(input_, syn, mem) -> (spk, syn, mem)``, the order snn.Synaptic returns."""

    def _init_alpha(self, alpha, learn_alpha: bool) -> None:
        alpha = _tensor(alpha)
        if learn_alpha:
            self.alpha = torch.nn.Parameter(alpha)
        else:
            self.register_buffer("alpha", alpha)

    def forward(self, input_: torch.Tensor, syn: torch.Tensor | None = None,
                mem: torch.Tensor | None = None):
        if syn is None or syn.shape != input_.shape:
            syn = torch.zeros_like(input_)
        syn = in_unit_interval(self.alpha) * syn + input_
        spk, mem = super().forward(syn, mem)
        return spk, syn, mem


class SpecSynaptic(_CurrentBased, SpecLeaky):
    """A current-based LIF layer of the spec (snnTorch's ``snn.Synaptic``, reset on the step it
    fires): i = alpha*i + I; u = beta*u + i; s = u > threshold; reset u."""

    def __init__(self, alpha: float = 0.0, beta: float = 1.0, threshold=1.0, *,
                 learn_alpha: bool = False, **kwargs):
        super().__init__(beta, threshold, **kwargs)
        self._init_alpha(alpha, learn_alpha)


class SpecSynapticIntegrator(_CurrentBased, SpecIntegrator):
    """The spec's output layer after a current state: i = alpha*i + I; u = beta*u + i."""

    def __init__(self, alpha: float = 0.0, beta: float = 1.0, *, v_init=0.0,
                 learn_alpha: bool = False, learn_beta: bool = False):
        super().__init__(beta, v_init=v_init, learn_beta=learn_beta)
        self._init_alpha(alpha, learn_alpha)


CURRENT_BASED = (SpecSynaptic, SpecSynapticIntegrator)
