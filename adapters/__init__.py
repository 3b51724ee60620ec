"""Adapters translate the framework-neutral core to and from a framework.

``leanspike.adapters.snntorch``: training side (needs only snnTorch).
``leanspike.adapters.lava``: deployment side (the ``lava`` extra, Python 3.10).
"""
