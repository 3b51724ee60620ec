"""leanspike: lean, deployable spiking networks from trained DNNs.

The core is framework-neutral (torch tensors, no snnTorch, no Lava): the network spec, the
algorithms, the registry, the model zoo and datasets. ``leanspike.adapters.snntorch`` and
``leanspike.adapters.lava`` translate the spec to and from each framework; ``leanspike.app``
(the pipeline and the ``leanspike`` command) is built on both.
"""

from leanspike._version import __version__
from leanspike.errors import LeanspikeError, SpecError, SpecFileError
from leanspike.spec import NetworkSpec, load_spec, save_spec

__all__ = [
    "LeanspikeError",
    "NetworkSpec",
    "SpecError",
    "SpecFileError",
    "__version__",
    "load_spec",
    "save_spec",
]
