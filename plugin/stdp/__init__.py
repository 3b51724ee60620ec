"""STDP-learned time-to-first-spike networks with connection pruning during learning
(Nguyen, Veeravalli & Fong 2021, on a Kheradpisheh et al. 2018 style network).

Images become first-spike times (``encoding``); conv layers of fire-once IF neurons with
pooling and lateral inhibition process them (``layers``, ``network``); k-winner-take-all
(``wta``) picks who learns with the simplified STDP rule, and weak synapses are pruned while
learning (``rule``); layers learn one at a time (``train``); a linear classifier reads the
last layer out (``readout``); ``workflow`` ties it together. Torch only: no snnTorch, no
Lava (``leanspike.adapters.lava.ttfs`` deploys the result).
"""

from leanspike.stdp.encoding import NEVER, dog_kernel, dog_on_off, intensity_to_latency
from leanspike.stdp.layers import FirstSpikePool, Synapses, TTFSConv, ttfs_step
from leanspike.stdp.network import LayerConnectivity, NetworkRun, TTFSNetwork, load_ttfs
from leanspike.stdp.readout import Readout, spike_features
from leanspike.stdp.rule import Pruning, STDPRule, apply_stdp, convergence, stdp_delta
from leanspike.stdp.train import LayerTraining, LearningReport, train_layerwise
from leanspike.stdp.workflow import STDPConfig, STDPResult, build_network, encode, run_stdp
from leanspike.stdp.wta import Winner, k_winners

__all__ = [
    "NEVER", "FirstSpikePool", "LayerConnectivity", "LayerTraining", "LearningReport",
    "NetworkRun", "Pruning", "Readout", "STDPConfig", "STDPResult", "STDPRule", "Synapses",
    "TTFSConv", "TTFSNetwork", "Winner", "apply_stdp", "build_network", "convergence",
    "dog_kernel", "dog_on_off", "encode", "intensity_to_latency", "k_winners", "load_ttfs",
    "run_stdp", "spike_features", "stdp_delta", "train_layerwise", "ttfs_step",
]
