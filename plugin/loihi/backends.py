"""The names of the back-ends a spec is deployed on, and what each one is.

Framework-neutral on purpose: the command line offers them as choices without importing Lava
(which imports only on Python 3.10), and the Lava adapter builds its runs from the same table.
"""

from __future__ import annotations

# Lava back-end name -> (Loihi 2 fixed point, the whole network as one process)
LAVA_BACKENDS = {
    "lava-float": (False, False),
    "lava-fixed": (True, False),
    "lava-fast-float": (False, True),
    "lava-fast-fixed": (True, True),
}
# the lava-dl netx HDF5 file the Loihi 2 toolchain loads (fixed point; run by lava-dl's Network)
NETX = "netx"
DEPLOY_BACKENDS = (*LAVA_BACKENDS, NETX)
