"""Two Python threads, each running a one-thread distance transform, against
the same work one after the other: with the GIL released the pair finishes in
about half the time on two free cores (ratio ~0.5; ~1.0 if the GIL were
held). A timing on a shared machine, so it prints and never fails.

    target/python-venv/bin/python benches/peers/gil_parallel.py [--rounds N]
"""

import argparse
import threading
import time

import numpy as np

import liverkit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    mask = rng.random((160, 160, 160)) < 0.97
    spacing = (0.8, 0.8, 2.0)

    def work() -> None:
        for _ in range(3):
            liverkit.distance_transform(mask, spacing, threads=1)

    work()  # warm the pool and the allocator
    ratios = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        work()
        work()
        sequential = time.perf_counter() - t0
        threads = [threading.Thread(target=work) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel = time.perf_counter() - t0
        ratios.append(parallel / sequential)
        print(f"sequential {sequential:.3f} s, two threads {parallel:.3f} s, ratio {ratios[-1]:.2f}")
    print(f"best ratio {min(ratios):.2f} (0.5 = fully parallel on two cores, 1.0 = serialised)")


if __name__ == "__main__":
    main()
