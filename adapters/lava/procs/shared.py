"""Vars that a forked Lava worker keeps in memory shared with the parent, read without Lava.

Lava 0.10 reads a Var back (``Var.get``) one value per channel message, through its runtime
service: a run's 450 x 10 outputs and its spike counts, some 9,000 values, took 0.2 s, a fifth
of a whole single-process run at T=1, and a recorded run's every spike far more. A
``SharedVars`` table is anonymous shared memory the runner makes before Lava forks its workers
(they inherit it, as they inherit the failure queue of ``models.report_failures_to``); a
ProcessModel told the table's key (its process's ``shared`` parameter) swaps its Var arrays for
arrays in that memory on its first step (``adopt``), so the values it writes are the parent's to
read as they are, and Lava's own ``get``/``set`` still work (they read and write the same
arrays). Where a worker was not forked (another start method) or a Var's array is not the one
planned, nothing is swapped and the parent reads through Lava (``read`` gives None).
"""

from __future__ import annotations

import itertools
import mmap

import numpy as np

_TABLES: dict[int, SharedVars] = {}
_KEYS = itertools.count(1)
_ALIGN = 64


class SharedVars:
    """Named arrays (shape, dtype) in one anonymous shared mapping, and per array a flag the
    worker sets once the Var lives there."""

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
        self.layout = {name: (tuple(int(d) for d in shape), np.dtype(dtype))
                       for name, (shape, dtype) in layout.items()}
        self.offsets, offset = {}, _ALIGN * (1 + len(self.layout) // _ALIGN)  # flags first
        for name, (shape, dtype) in self.layout.items():
            self.offsets[name] = offset
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            offset += -(-size // _ALIGN) * _ALIGN
        self._memory = mmap.mmap(-1, offset)  # MAP_SHARED | MAP_ANONYMOUS: forks share it
        self._flags = np.ndarray((len(self.layout),), np.uint8, buffer=self._memory)
        self._index = {name: i for i, name in enumerate(self.layout)}
        self.key = next(_KEYS)
        _TABLES[self.key] = self

    def array(self, name: str) -> np.ndarray:
        shape, dtype = self.layout[name]
        return np.ndarray(shape, dtype, buffer=self._memory, offset=self.offsets[name])

    def adopt(self, name: str, current: np.ndarray) -> np.ndarray:
        """(In the worker) the shared array holding ``current``'s values, or ``current`` where
        it is not the array planned for ``name``."""
        if name not in self.layout or not isinstance(current, np.ndarray):
            return current
        shape, dtype = self.layout[name]
        if current.shape != shape or current.dtype != dtype:
            return current
        shared = self.array(name)
        shared[...] = current
        self._flags[self._index[name]] = 1
        return shared

    def read(self, name: str) -> np.ndarray | None:
        """(In the parent, after the run) a copy of the array the worker wrote, or None where
        the worker kept Lava's own."""
        if not self._flags[self._index[name]]:
            return None
        return self.array(name).copy()

    def close(self) -> None:
        """Forget the table (the mapping goes with the last array over it)."""
        _TABLES.pop(self.key, None)

    def __enter__(self) -> SharedVars:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def adopt_vars(model, names: dict[str, str]) -> None:
    """Swap ``model``'s Var arrays (attribute name -> table name) for the shared ones of the
    table its process was given, if any was and this worker inherited it."""
    table = _TABLES.get(model.proc_params.get("shared"))
    if table is None:
        return
    for attribute, name in names.items():
        setattr(model, attribute, table.adopt(name, getattr(model, attribute)))
