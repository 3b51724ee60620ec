"""NeuroBench as the referee of leanspike networks.

``binary_network`` gives a network's deployed stages as a model whose layers after the first
receive binary spikes (no NeuroBench needed); ``referee`` runs NeuroBench's static and workload
metrics on it. NeuroBench (the ``neurobench`` extra) is imported only when ``referee`` or
``NeuroBenchNetwork`` is first used.
"""

from leanspike.adapters.neurobench.binary import binary_network

_NEEDS_NEUROBENCH = ("NeuroBenchNetwork", "referee", "STATIC_METRICS", "WORKLOAD_METRICS")

__all__ = ["binary_network", *_NEEDS_NEUROBENCH]


def __getattr__(name: str):
    if name in _NEEDS_NEUROBENCH:
        from leanspike.adapters.neurobench import benchmark

        return getattr(benchmark, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
