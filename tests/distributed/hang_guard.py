"""``python hang_guard.py MODULE|SCRIPT.py ARGS...`` runs ``python -m MODULE ARGS...`` (or the
script) with a deadline: past ``LEANSPIKE_TEST_HANG_S`` seconds the process prints every
thread's stack and exits (faulthandler), so a rank that hangs under torchrun says where
instead of waiting for a kill."""

import faulthandler
import os
import runpy
import sys

if __name__ == "__main__":
    faulthandler.dump_traceback_later(float(os.environ.get("LEANSPIKE_TEST_HANG_S", 600)),
                                      exit=True)
    target, *args = sys.argv[1:]
    sys.argv = [target, *args]
    if target.endswith(".py"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
