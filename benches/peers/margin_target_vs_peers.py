"""`liverkit margin` and `liverkit target` end to end, beside a nibabel + edt
script doing the same job on the same files, in the same run.

On the 512 x 512 x 300 phantom (benches/peers/phantom.py) and an ablation
zone of three spheres 10.5 mm larger than its tumours (edt_vs_peers.py):

  * target: the tumours grown by 10 mm inside the liver, written as a mask.
    liverkit: `liverkit target LABELS --tumor 200,201,202 --liver 5 --out`;
    peer: nibabel reads the labels, `edt.edt` (2 threads) gives every
    voxel's distance to the tumours, the mask (distance <= 10 mm and liver
    or tumour) is written with nibabel. Both masks are compared voxel by
    voxel.
  * margin: the minimal margin of each tumour. liverkit: `liverkit margin
    --tumor LABELS:200,201,202 --zone ZONE` (sub-voxel surfaces); peer:
    nibabel reads both files, `edt.edt` gives each zone voxel's depth inside
    the zone, and each tumour's minimal margin is the least depth over its
    boundary voxels less half a voxel (a voxel-level estimate). The two
    minimal margins are printed side by side; they differ by up to about a
    voxel by construction.

Each command runs as a fresh process (reading the gzip files included),
interleaved with the peer, on 2 threads; medians over the rounds, and the
peer's time as a multiple of liverkit's.

    python3 benches/peers/margin_target_vs_peers.py [--rounds 5]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantom  # noqa: E402
from edt_vs_peers import ablation_zones  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXE = os.path.join(ROOT, "target", "release", "liverkit")
TUMOURS = (200, 201, 202)


def peer_target(labels_path, out_path):
    img = nib.load(labels_path)
    lab = np.asarray(img.dataobj)
    spacing = img.header.get_zooms()[:3]
    tumour = np.isin(lab, TUMOURS)
    dist = edt.edt(~tumour, anisotropy=spacing, parallel=2)
    target = (dist <= 10.0) & ((lab == 5) | tumour)
    nib.save(nib.Nifti1Image(target.astype(np.uint8), img.affine), out_path)
    return target


def peer_margin(labels_path, zone_path):
    img = nib.load(labels_path)
    lab = np.asarray(img.dataobj)
    zone = np.asarray(nib.load(zone_path).dataobj) > 0
    spacing = img.header.get_zooms()[:3]
    depth = edt.edt(zone, anisotropy=spacing, parallel=2)
    out = []
    for t in TUMOURS:
        m = lab == t
        inner = m.copy()
        for a in range(3):
            inner &= np.roll(m, 1, a) & np.roll(m, -1, a)
        boundary = m & ~inner
        centre = img.affine @ np.append(np.argwhere(m).mean(axis=0), 1.0)
        out.append((centre[:3], float(depth[boundary].min()) - 0.5 * min(spacing)))
    return out


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def run(args):
    r = subprocess.run([EXE, "--threads", "2", *args], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"liverkit {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "-q", "--release"], cwd=ROOT, check=True)
    shape, spacing = (512, 512, 300), (0.78, 0.78, 2.0)
    with tempfile.TemporaryDirectory() as folder:
        labels = os.path.join(folder, "phantom.nii.gz")
        phantom.save(phantom.make(shape, spacing), spacing, labels)
        zone = os.path.join(folder, "zone.nii.gz")
        zimg = nib.Nifti1Image(ablation_zones(shape, spacing), phantom.affine_for(shape, spacing))
        zimg.set_sform(zimg.affine, code=1)
        nib.save(zimg, zone)
        lk_out, peer_out = os.path.join(folder, "lk_target.nii.gz"), os.path.join(folder, "peer_target.nii.gz")
        times = {k: [] for k in ("target liverkit", "target peer", "margin liverkit", "margin peer")}
        for _ in range(a.rounds):
            dt, peer_mask = timed(lambda: peer_target(labels, peer_out))
            times["target peer"].append(dt)
            dt, _ = timed(lambda: run(["target", labels, "--tumor", "200,201,202", "--liver", "5",
                                       "--out", lk_out, "--json"]))
            times["target liverkit"].append(dt)
            dt, peer_mam = timed(lambda: peer_margin(labels, zone))
            times["margin peer"].append(dt)
            dt, out = timed(lambda: run(["margin", "--tumor", f"{labels}:200,201,202", "--zone", zone, "--json"]))
            times["margin liverkit"].append(dt)
        lk_mask = np.asarray(nib.load(lk_out).dataobj) > 0
        differ = int((lk_mask != peer_mask).sum())
        # Pair each liverkit tumour with the peer's by the nearest centroid.
        lk_mam, peer_of = [], []
        for t in json.loads(out)["tumors"]:
            c = np.array(t["centroid_mm"])
            lk_mam.append(t["min_margin_mm"])
            peer_of.append(min(peer_mam, key=lambda p: np.linalg.norm(p[0] - c))[1])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"512 x 512 x 300, 2 threads, {a.rounds} interleaved rounds, medians (each a fresh process, reading included):")
    for job in ("target", "margin"):
        lk, peer = med[f"{job} liverkit"], med[f"{job} peer"]
        print(f"  {job:<7} liverkit {lk:6.3f} s   nibabel + edt {peer:6.3f} s   peer / liverkit {peer / lk:5.1f}x")
    print(f"  target masks: {lk_mask.sum()} voxels (liverkit), {differ} voxels differ from the peer's")
    print("  minimal margins, mm (liverkit sub-voxel | peer voxel-level): "
          + ", ".join(f"{x:.2f} | {y:.2f}" for x, y in zip(lk_mam, peer_of)))
    ok = differ == 0 and all(abs(x - y) <= 2.0 for x, y in zip(lk_mam, peer_of))
    print(f"  agree: {'yes' if ok else 'NO'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
