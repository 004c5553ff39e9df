"""Label volumetry: liverkit against nibabel + numpy and SimpleITK, same files, same run.

Generates the 512 x 512 x 300 abdominal phantom (benches/peers/phantom.py),
saves it as .nii and .nii.gz with nibabel, then times, interleaved round by
round so that machine noise hits every tool alike:

  * nibabel load + numpy bincount        (counts only)
  * SimpleITK ReadImage + LabelShapeStatisticsImageFilter (counts, bbox,
    centroid; perimeter off, as liverkit does not compute it)
  * `liverkit volumes --json FILE`       (end to end: process start, read,
    count, bbox, centroid, edge contact, JSON output)

It checks that all three agree on every label's voxel count and volume, then
prints the median times and the ratio of each peer to liverkit, and the peak
resident memory of each tool run alone in a fresh process (the Python peers'
figure includes the interpreter with numpy, nibabel and SimpleITK imported).

    python3 benches/peers/volumes_vs_peers.py [--liverkit target/release/liverkit]
        [--rounds 7] [--shape 512,512,300] [--keep DIR]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
import SimpleITK as sitk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantom  # noqa: E402


def run_nibabel(path):
    img = nib.load(path)
    data = np.asarray(img.dataobj)
    counts = np.bincount(data.ravel())
    vv = abs(np.linalg.det(img.affine[:3, :3]))
    return {int(v): (int(c), c * vv / 1000.0) for v, c in enumerate(counts) if c and v}


def run_sitk(path):
    img = sitk.ReadImage(path)
    f = sitk.LabelShapeStatisticsImageFilter()
    f.ComputePerimeterOff()
    f.Execute(img)
    return {int(v): (int(f.GetNumberOfPixels(v)), f.GetPhysicalSize(v) / 1000.0) for v in f.GetLabels()}


def run_liverkit(exe, path):
    out = subprocess.run([exe, "volumes", "--json", path], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return {l["label"]: (l["voxels"], l["volume_ml"]) for l in report["labels"]}


def timed(fn, *args):
    t = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t, r


def peak_rss_mb(cmd):
    """Peak resident set size of a command run in its own process, measured by
    GNU time (a child forked from this big Python process would inherit its
    high-water mark across exec). None when /usr/bin/time is missing."""
    if not os.path.exists("/usr/bin/time"):
        return None
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024.0


def agree(a, b):
    if set(a) != set(b):
        return False
    return all(a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) <= 1e-6 * max(1.0, a[k][1]) for k in a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--liverkit", default=os.path.join("target", "release", "liverkit"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--shape", default="512,512,300")
    ap.add_argument("--keep", help="write the phantom files here instead of a temporary folder")
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        {"nibabel": run_nibabel, "sitk": run_sitk}[a.child[0]](a.child[1])
        return
    shape = tuple(int(v) for v in a.shape.split(","))
    spacing = (0.78, 0.78, 2.0)

    folder = a.keep or tempfile.mkdtemp(prefix="liverkit-peers-")
    os.makedirs(folder, exist_ok=True)
    lab = phantom.make(shape, spacing)
    files = {}
    for ext in ("nii", "nii.gz"):
        files[ext] = os.path.join(folder, f"phantom.{ext}")
        phantom.save(lab, spacing, files[ext])
    nbytes = lab.nbytes
    del lab
    print(f"phantom {shape[0]}x{shape[1]}x{shape[2]} uint8 ({nbytes / 1e6:.1f} MB), "
          f".nii.gz {os.path.getsize(files['nii.gz']) / 1e6:.2f} MB; {a.rounds} interleaved rounds, median times")

    tools = [
        ("nibabel + numpy bincount", lambda p: run_nibabel(p)),
        ("SimpleITK ReadImage + LabelShapeStatistics", lambda p: run_sitk(p)),
        ("liverkit volumes --json", lambda p: run_liverkit(a.liverkit, p)),
    ]
    ok = True
    summary = {}
    for ext, path in files.items():
        times = {name: [] for name, _ in tools}
        results = {}
        for _ in range(a.rounds):
            for name, fn in tools:
                dt, r = timed(fn, path)
                times[name].append(dt)
                results[name] = r
        ref = results["liverkit volumes --json"]
        for name, r in results.items():
            if not agree(ref, r):
                ok = False
                print(f"  DISAGREEMENT on .{ext}: {name}", file=sys.stderr)
        lk = statistics.median(times["liverkit volumes --json"])
        print(f"\n.{ext}:")
        for name, _ in tools:
            m = statistics.median(times[name])
            print(f"  {name:<45} {m * 1000:9.1f} ms   {m / lk:6.1f}x liverkit's time")
        fastest_peer = min(statistics.median(times[n]) for n, _ in tools[:2])
        summary[ext] = fastest_peer / lk
        print(f"  liverkit is {fastest_peer / lk:.1f}x faster than the fastest peer; "
              f"all tools agree on {len(ref)} labels: {'yes' if ok else 'NO'}")
        me = os.path.abspath(__file__)
        mem = {
            "nibabel + numpy bincount": peak_rss_mb([sys.executable, me, "--child", "nibabel", path]),
            "SimpleITK": peak_rss_mb([sys.executable, me, "--child", "sitk", path]),
            "liverkit": peak_rss_mb([a.liverkit, "volumes", "--json", path]),
        }
        if None not in mem.values():
            print("  peak memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in mem.items()))
    print("\nsummary: speed-up over the fastest peer: " + ", ".join(f".{k} {v:.1f}x" for k, v in summary.items()))
    if not a.keep:
        for p in files.values():
            os.remove(p)
        os.rmdir(folder)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
