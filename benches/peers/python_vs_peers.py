"""The Python module against the Rust binary, and against edt and scipy.

On the 512 x 512 x 300 phantom (0.78 x 0.78 x 2.0 mm, benches/peers/phantom.py),
in interleaved rounds (median seconds; the overhead ratios also from the
fastest round, which is the least disturbed by other load):

  * volumes: `liverkit volumes --json FILE` (the release binary, timed as a
    process) against `liverkit.volumes(FILE)` from Python; the binary's
    process start (`liverkit --version`) is measured too and reported;
  * distance transform of the liver mask: the Rust transform alone
    (`cargo bench --bench edt_timer`, file read before the clock starts)
    against `liverkit.distance_transform(mask, spacing_mm)` from Python on
    a numpy array, which adds taking the array in and handing the result
    out; then `edt.edt(mask, anisotropy, parallel=N)` and
    `scipy.ndimage.distance_transform_edt(mask, sampling)` on the same
    array, as multiples of liverkit's time from Python.

The Python overhead target is < 5 % over the binary. All results are
checked to agree (same volumes; distance sums within 1e-6).

    python benches/peers/python_vs_peers.py [--rounds 5] [--skip-scipy]

Needs the module installed (`pip install ./python`) and runs
`cargo build --release` and `cargo bench --no-run` itself.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import edt
import numpy as np
from scipy.ndimage import distance_transform_edt

import liverkit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantom  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "liverkit")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rust_edt(path, threads):
    out = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "edt_timer", "--", path, "5", str(threads), "inside"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["sum"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-scipy", action="store_true", help="scipy takes ~20 s a call on this volume")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "-q", "--release", "--bin", "liverkit"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "bench", "-q", "--bench", "edt_timer", "--no-run"], cwd=ROOT, check=True)
    threads = os.cpu_count() or 1

    shape, spacing = (512, 512, 300), (0.78, 0.78, 2.0)
    folder = tempfile.mkdtemp(prefix="liverkit-py-")
    path = os.path.join(folder, "phantom.nii.gz")
    lab = phantom.make(shape, spacing)
    phantom.save(lab, spacing, path)
    liver = lab == 5
    del lab
    print(f"phantom {shape[0]}x{shape[1]}x{shape[2]}, spacing {spacing} mm, {threads} threads; "
          f"{a.rounds} interleaved rounds, median seconds")

    ok = True
    # Volumes: binary process against the Python call on the same file.
    t = {"binary": [], "python": [], "start": []}
    for _ in range(a.rounds):
        dt, out = timed(lambda: subprocess.run([BIN, "volumes", "--json", path], check=True,
                                               capture_output=True, text=True).stdout)
        t["binary"].append(dt)
        dt, r = timed(lambda: liverkit.volumes(path))
        t["python"].append(dt)
        dt, _ = timed(lambda: subprocess.run([BIN, "--version"], check=True, capture_output=True))
        t["start"].append(dt)
    if json.loads(out) != r.to_dict():
        ok = False
        print("  DISAGREEMENT: liverkit.volumes differs from the binary's JSON", file=sys.stderr)
    b, p, s = (statistics.median(t[k]) for k in ("binary", "python", "start"))
    fastest = min(t["python"]) / min(t["binary"])
    print("\nvolumes (.nii.gz, streamed):")
    print(f"  binary `liverkit volumes --json`  {b:8.3f} s  (process start {s:.3f} s)")
    print(f"  Python liverkit.volumes(path)     {p:8.3f} s  = {p / b:.3f} x the binary, "
          f"{p / (b - s):.3f} x without its process start; fastest rounds {fastest:.3f} x")

    # Distance transform: Rust alone against Python on a numpy array.
    t = {"rust": [], "python": [], "edt": [], "scipy": []}
    sums = {}
    for r in range(a.rounds):
        dt, s_rust = rust_edt(path, threads)
        t["rust"].append(dt)
        sums["rust"] = s_rust
        dt, d = timed(lambda: liverkit.distance_transform(liver, spacing))
        t["python"].append(dt)
        sums["python"] = float(d.sum(dtype=np.float64))
        del d
        dt, d = timed(lambda: edt.edt(liver, anisotropy=spacing, parallel=threads))
        t["edt"].append(dt)
        sums["edt"] = float(np.asarray(d).sum(dtype=np.float64))
        del d
        if not a.skip_scipy and r == 0:  # one call: it is slow
            dt, d = timed(lambda: distance_transform_edt(liver, sampling=spacing))
            t["scipy"].append(dt)
            sums["scipy"] = float(d.sum(dtype=np.float64))
            del d
    for name, v in sums.items():
        if abs(v - sums["rust"]) > 1e-6 * sums["rust"]:
            ok = False
            print(f"  DISAGREEMENT: {name} sum {v} vs {sums['rust']}", file=sys.stderr)
    rust, py = statistics.median(t["rust"]), statistics.median(t["python"])
    print(f"\ndistance transform, liver mask ({int(liver.sum())} voxels), {threads} threads:")
    print(f"  Rust transform alone (edt_timer)             {rust:8.3f} s")
    fastest = min(t["python"]) / min(t["rust"])
    print(f"  Python liverkit.distance_transform(array)    {py:8.3f} s  = {py / rust:.3f} x Rust; "
          f"fastest rounds {fastest:.3f} x")
    for name, label in (("edt", f"edt.edt(parallel={threads})"), ("scipy", "scipy distance_transform_edt")):
        if t[name]:
            m = statistics.median(t[name])
            print(f"  {label:<44} {m:8.3f} s  = {m / py:.1f} x liverkit from Python")
    print("\nall results agree" if ok else "\nRESULTS DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
