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

Finally it times the whole margin assessment of that case end to end
(`liverkit margin` reading the label map and an ablation-zone file of three
spheres around the tumours, with the liver for the capsule-excluded margins):
the target is under one second on two cores.

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


def ablation_zones(shape, spacing):
    """Spheres 10.5 mm larger than the phantom's three tumours, a little off centre."""
    x, y, z = [(np.arange(shape[a]) - shape[a] / 2) * spacing[a] for a in range(3)]
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    fov = min(shape[0] * spacing[0], shape[1] * spacing[1]) / 400.0
    zfov = shape[2] * spacing[2] / 600.0
    zone = np.zeros(shape, np.uint8)
    tumours = [((70 * fov, 10 * fov, 20 * zfov), 18 * fov), ((40 * fov, -20 * fov, -10 * zfov), 11 * fov),
               ((95 * fov, 25 * fov, 45 * zfov), 7 * fov)]
    for ((cx, cy, cz), r), off in zip(tumours, [(2, 0, 0), (0, -3, 1), (1, 1, -2)]):
        zone[(X - cx - off[0]) ** 2 + (Y - cy - off[1]) ** 2 + (Z - cz - off[2]) ** 2 < (r + 10.5) ** 2] = 1
    return zone


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
    # The whole margin assessment, end to end, on two cores.
    subprocess.run(["cargo", "build", "-q", "--release"], cwd=ROOT, check=True)
    zone_path = os.path.join(folder, "zone.nii.gz")
    zimg = nib.Nifti1Image(ablation_zones(shape, spacing), phantom.affine_for(shape, spacing))
    zimg.set_sform(zimg.affine, code=1)
    nib.save(zimg, zone_path)
    exe = os.path.join(ROOT, "target", "release", "liverkit")
    cmd = [exe, "--threads", "2", "margin", "--tumor", f"{path}:200,201,202", "--zone", zone_path,
           "--liver", f"{path}:5", "--json"]
    times = []
    for _ in range(max(3, a.rounds)):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if r.returncode not in (0, 1):
            ok = False
            print("margin assessment failed:", r.stderr, file=sys.stderr)
    report = json.loads(r.stdout)
    med = statistics.median(times)
    print(f"\nmargin assessment of the case (3 tumours, with capsule exclusion), end to end on 2 threads: "
          f"{med:.2f} s median ({'under' if med < 1.0 else 'OVER'} 1 s); minimal margins "
          + ", ".join(f"{t['min_margin_mm']:.1f}" for t in report["tumors"]) + " mm")
    os.remove(zone_path)
    os.remove(path)
    os.rmdir(folder)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
