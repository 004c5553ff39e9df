"""Distance transforms: liverkit against scipy, edt and SimpleITK, same mask, same run.

On the 512 x 512 x 300 phantom (0.78 x 0.78 x 2.0 mm, benches/peers/phantom.py),
for the liver mask, times in interleaved rounds:

  * inside: distance of every liver voxel to the nearest non-liver voxel
    (scipy `distance_transform_edt(mask, sampling)`, `edt.edt(mask,
    anisotropy, parallel=1|2)`, liverkit `distance_to_background_mm`);
  * outside: distance of every voxel to the liver (the same on `~mask`,
    liverkit `distance_to_foreground_mm`), and SimpleITK
    `SignedMaurerDistanceMap` (one call gives both sides; its outside part
    is compared, its inside part uses another convention: distance to the
    nearest boundary voxel of the object).

liverkit runs as `cargo bench --bench edt_timer` (built first), which reads
the mask, starts the clock, runs the transform and reports the seconds and
the distances' sum and maximum; the Python peers are timed in this process.
It checks that all tools agree (sum within 1e-6, maximum within 1e-5) and
prints each peer's time as a multiple of liverkit's at the same thread count.

    python3 benches/peers/edt_vs_peers.py [--rounds 3] [--skip-scipy]
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
import nibabel as nib
import numpy as np
import SimpleITK as sitk
from scipy.ndimage import distance_transform_edt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantom  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def liverkit(path, threads, kind):
    out = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "edt_timer", "--", path, "5", str(threads), kind],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["sum"], r["max"]


def timed(fn):
    t = time.perf_counter()
    d = fn()
    return time.perf_counter() - t, d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-scipy", action="store_true", help="scipy takes ~20 s a call on this volume")
    a = ap.parse_args()
    subprocess.run(["cargo", "bench", "-q", "--bench", "edt_timer", "--no-run"], cwd=ROOT, check=True)

    shape, spacing = (512, 512, 300), (0.78, 0.78, 2.0)
    folder = tempfile.mkdtemp(prefix="liverkit-edt-")
    path = os.path.join(folder, "phantom.nii.gz")
    lab = phantom.make(shape, spacing)
    phantom.save(lab, spacing, path)
    liver = lab == 5
    del lab
    outside_mask = ~liver
    # SimpleITK wants z, y, x order.
    simg = sitk.GetImageFromArray(np.ascontiguousarray(liver.transpose(2, 1, 0)).astype(np.uint8))
    simg.SetSpacing(spacing)
    print(f"liver mask {shape[0]}x{shape[1]}x{shape[2]}, {liver.sum()} voxels, spacing {spacing} mm; "
          f"{a.rounds} interleaved rounds, median seconds")

    ok = True
    for kind in ("inside", "outside"):
        mask = liver if kind == "inside" else outside_mask
        tools = {
            "edt (1 thread)": lambda: edt.edt(mask, anisotropy=spacing, parallel=1),
            "edt (2 threads)": lambda: edt.edt(mask, anisotropy=spacing, parallel=2),
        }
        if kind == "outside":
            tools["SimpleITK SignedMaurerDistanceMap"] = lambda: sitk.GetArrayFromImage(
                sitk.SignedMaurerDistanceMap(simg, insideIsPositive=False, squaredDistance=False, useImageSpacing=True))
        if not a.skip_scipy:
            tools["scipy distance_transform_edt"] = lambda: distance_transform_edt(mask, sampling=spacing)
        times = {k: [] for k in tools}
        times["liverkit (1 thread)"] = []
        times["liverkit (2 threads)"] = []
        stats = {}
        for r in range(a.rounds):
            for name, fn in tools.items():
                if name.startswith("scipy") and r > 0:
                    continue  # one call is enough: it is slow
                dt, d = timed(fn)
                times[name].append(dt)
                d = np.asarray(d)
                if name.startswith("SimpleITK"):
                    d = np.clip(d, 0, None)  # outside part; the inside is another convention
                stats[name] = (float(d.sum(dtype=np.float64)), float(d.max()))
                del d
            for th in (1, 2):
                dt, s, m = liverkit(path, th, kind)
                times[f"liverkit ({th} thread{'s' if th > 1 else ''})"].append(dt)
                stats["liverkit"] = (s, m)
        ref = stats["liverkit"]
        for name, (s, m) in stats.items():
            if abs(s - ref[0]) > 1e-6 * ref[0] or abs(m - ref[1]) > 1e-5 * ref[1]:
                ok = False
                print(f"  DISAGREEMENT ({kind}): {name}: sum {s} max {m} vs liverkit {ref}", file=sys.stderr)
        lk1 = statistics.median(times["liverkit (1 thread)"])
        lk2 = statistics.median(times["liverkit (2 threads)"])
        print(f"\n{kind}:")
        for name, t in times.items():
            med = statistics.median(t)
            base = lk2 if "2 threads" in name else lk1
            print(f"  {name:<36} {med:8.3f} s   {med / base:6.1f}x liverkit at the same thread count")
        e1 = statistics.median(times["edt (1 thread)"])
        e2 = statistics.median(times["edt (2 threads)"])
        print(f"  liverkit vs edt: {e1 / lk1:.1f}x faster on 1 thread, {e2 / lk2:.1f}x on 2 threads; "
              f"all tools agree: {'yes' if ok else 'NO'}")
    os.remove(path)
    os.rmdir(folder)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
