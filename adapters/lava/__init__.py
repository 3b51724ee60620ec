"""Deployment on Lava: network specs become Lava processes.

Lava is archived upstream and its last releases are frozen: lava-nc 0.10.0 imports only on
Python 3.10 and lava-dl 0.6.0 pins torch 2.3.x. This package therefore lives behind the ``lava``
extra; everything else in leanspike works without it.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import sys
import warnings

_INSTALL_HINT = (
    "leanspike.adapters.lava needs Lava (lava-nc 0.10.0 and lava-dl 0.6.0), which import only "
    "on Python 3.10: install it with  pip install 'leanspike[lava]'  in a Python 3.10 "
    "environment (`make test` builds one in .venv)."
)



@contextlib.contextmanager
def _fork_start_method():
    """Let Lava's import-time ``multiprocessing.set_start_method('fork')`` succeed.

    Lava calls it without ``force``, which raises "context has already been set" as soon as
    anything used multiprocessing first: a tqdm progress bar is enough. Lava's runtime needs
    'fork', so an already-'fork' context is kept and any other one is switched, with a warning.
    """
    original = multiprocessing.set_start_method

    def tolerant(method, force=False):
        current = multiprocessing.get_start_method(allow_none=True)
        if current == method:
            return None
        if current is not None:
            warnings.warn(f"Lava needs the '{method}' multiprocessing start method; switching "
                          f"from '{current}'", RuntimeWarning, stacklevel=2)
        return original(method, force=True)

    multiprocessing.set_start_method = tolerant
    try:
        yield
    finally:
        multiprocessing.set_start_method = original


try:
    # lava-dl prints optional-dependency notices (Prophesee, CUDA) on import: keep them quiet.
    with _fork_start_method(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        import lava.lib.dl.netx  # noqa: F401
        import lava.magma.core.run_configs  # noqa: F401
except Exception as exc:  # lava-nc raises ValueError, not ImportError, on Python 3.11+
    running = f"this is Python {sys.version_info.major}.{sys.version_info.minor}"
    raise ImportError(f"{_INSTALL_HINT} ({running}; import failed: {exc!r})") from exc

from importlib.metadata import version as _version  # noqa: E402

from leanspike.registry.sources import resolve_spec  # noqa: E402
from leanspike.spec import NetworkSpec  # noqa: E402

LAVA_VERSIONS = {"lava-nc": _version("lava-nc"), "lava-dl": _version("lava-dl")}


def network_spec(source, registry=None) -> NetworkSpec:
    """The spec a Lava network is built from: a NetworkSpec, a registry Entry, a spec folder or
    a registry reference. Every builder of this adapter accepts the same sources through it."""
    return resolve_spec(source, registry).validate()


__all__ = ["LAVA_VERSIONS", "network_spec"]

from leanspike.adapters.lava.runner import (  # noqa: E402
    BACKENDS,
    DeployedNetwork,
    LavaRun,
    prepare,
    run,
)
from leanspike.adapters.lava.verify import Divergence, VerifyReport, verify  # noqa: E402

__all__ += ["BACKENDS", "DeployedNetwork", "Divergence", "LavaRun", "VerifyReport", "prepare",
            "run", "verify"]
