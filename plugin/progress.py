"""Progress bars that behave in a terminal and in a log file.

tqdm redraws its line with carriage returns; written to a file or a pipe that is thousands of
lines of noise (a pipeline log held one per epoch of every stage). So a bar is drawn only where
someone watches it: on a terminal. Elsewhere it is silent, and the callers' own one-line
summaries (accuracy per stage, the final table) are what the log keeps.
``LEANSPIKE_PROGRESS=1`` forces bars on (for a notebook or a terminal that is not a TTY),
``LEANSPIKE_PROGRESS=0`` turns them off everywhere.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

ENV = "LEANSPIKE_PROGRESS"
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def progress_enabled(requested: bool = True, stream=None) -> bool:
    """Whether a bar is drawn on ``stream`` (default stderr, where tqdm writes): asked for, not
    switched off, and on a terminal."""
    if not requested:
        return False
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in _OFF:
        return False
    if forced in _ON:
        return True
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled unless ``progress_enabled`` for its ``file``.

    A disabled tqdm still iterates and still accepts ``set_postfix``/``update``/``close``, so
    callers need no second code path. tqdm's own ``disable=True`` is honoured too."""
    from tqdm.auto import tqdm  # imported on use: tqdm.auto probes for IPython

    enabled = enabled and not kwargs.pop("disable", False)
    return tqdm(iterable, disable=not progress_enabled(enabled, kwargs.get("file")), **kwargs)
