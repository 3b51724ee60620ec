"""Deployment on Lava: network specs become Lava processes.

Lava is archived upstream and its last releases are frozen: lava-nc 0.10.0 imports only on
Python 3.10 and lava-dl 0.6.0 pins torch 2.3.x. This package therefore lives behind the ``lava``
extra; everything else in leanspike works without it.
"""

from __future__ import annotations

import contextlib
import io
import sys

_INSTALL_HINT = (
    "leanspike.adapters.lava needs Lava (lava-nc 0.10.0 and lava-dl 0.6.0), which import only "
    "on Python 3.10: install it with  pip install 'leanspike[lava]'  in a Python 3.10 "
    "environment (`make test` builds one in .venv)."
)

try:
    # lava-dl prints optional-dependency notices (Prophesee, CUDA) on import: keep them quiet.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import lava.lib.dl.netx  # noqa: F401
        import lava.magma.core.run_configs  # noqa: F401
except Exception as exc:  # lava-nc raises ValueError, not ImportError, on Python 3.11+
    running = f"this is Python {sys.version_info.major}.{sys.version_info.minor}"
    raise ImportError(f"{_INSTALL_HINT} ({running}; import failed: {exc!r})") from exc

from importlib.metadata import version as _version  # noqa: E402

LAVA_VERSIONS = {"lava-nc": _version("lava-nc"), "lava-dl": _version("lava-dl")}

__all__ = ["LAVA_VERSIONS"]
