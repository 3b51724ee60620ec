"""``python hang_guard.py MODULE ARGS...`` runs ``python -m MODULE ARGS...`` with a deadline:
past ``LEANSPIKE_TEST_HANG_S`` seconds the process prints every thread's stack and exits
(faulthandler), so a rank that hangs under torchrun says where instead of waiting for a kill."""

import faulthandler
import os
import runpy
import sys

if __name__ == "__main__":
    faulthandler.dump_traceback_later(float(os.environ.get("LEANSPIKE_TEST_HANG_S", 600)),
                                      exit=True)
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
