"""The GIL is released while liverkit works: Python keeps running in
another thread during a call. (The speed-up of two threads over one is a
timing, measured in benches/peers/gil_parallel.py, not asserted in a test:
on a loaded or one-core machine it cannot show.)"""

from __future__ import annotations

import threading
import time

import numpy as np

import liverkit


def test_python_keeps_running_during_a_call():
    """While a transform runs in one thread, the main thread keeps
    executing Python (it could not while the GIL was held)."""
    rng = np.random.default_rng(1)
    mask = rng.random((200, 200, 200)) < 0.97
    done = threading.Event()
    t = threading.Thread(target=lambda: (liverkit.distance_transform(mask, (1, 1, 1), threads=1), done.set()))
    ticks = 0
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    t.join()
    assert ticks > 100
