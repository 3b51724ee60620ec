"""Training side: network specs to and from snnTorch modules.

Needs only snnTorch and torch; no Lava, no Python-3.10-only code.
"""

from leanspike.adapters.snntorch.network import SpikingNetwork, SpikingOutput, to_snntorch, to_spec
from leanspike.adapters.snntorch.neurons import SpecIntegrator, SpecLeaky

__all__ = [
    "SpecIntegrator",
    "SpecLeaky",
    "SpikingNetwork",
    "SpikingOutput",
    "to_snntorch",
    "to_spec",
]
