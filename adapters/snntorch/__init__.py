"""Training side: network specs to and from snnTorch modules.

Needs only snnTorch and torch; no Lava, no Python-3.10-only code.
"""

from leanspike.adapters.snntorch.adopt import adopt
from leanspike.adapters.snntorch.conversion import ConversionOutcome, convert
from leanspike.adapters.snntorch.network import SpikingNetwork, SpikingOutput, to_snntorch, to_spec
from leanspike.adapters.snntorch.neurons import (
    SpecIntegrator,
    SpecLeaky,
    SpecSynaptic,
    SpecSynapticIntegrator,
)
from leanspike.adapters.snntorch.pruning import PruneResult, prune, prune_with
from leanspike.adapters.snntorch.retraining import RetrainResult, retrain
from leanspike.adapters.snntorch.training import (
    FinetuneConfig,
    SNNEvaluation,
    evaluate_snn,
    finetune,
    make_trainable,
)

__all__ = [
    "adopt",
    "ConversionOutcome",
    "PruneResult",
    "RetrainResult",
    "prune",
    "prune_with",
    "retrain",
    "FinetuneConfig",
    "SNNEvaluation",
    "convert",
    "evaluate_snn",
    "finetune",
    "make_trainable",
    "SpecIntegrator",
    "SpecLeaky",
    "SpecSynaptic",
    "SpecSynapticIntegrator",
    "SpikingNetwork",
    "SpikingOutput",
    "to_snntorch",
    "to_spec",
]
