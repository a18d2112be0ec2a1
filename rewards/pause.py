"""Pausing long CPU runs while another engineer times a benchmark on the shared machine."""
from __future__ import annotations

import os
import time
from pathlib import Path


def wait_while_paused(poll_s: float = 10.0) -> None:
    """Sleep while the file named by $VIDPREF_PAUSE_FILE exists. The budgets of the pretraining and of the
    learning bar are process CPU time, which a paused run does not spend."""
    pause = os.environ.get("VIDPREF_PAUSE_FILE")
    while pause and Path(pause).exists():
        time.sleep(poll_s)
