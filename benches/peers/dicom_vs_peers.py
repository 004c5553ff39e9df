"""Reading a CT series: liverkit against pydicom + numpy and SimpleITK, same files, same run.

Writes a 512 x 512 x 300 uncompressed CT series (explicit VR little endian,
int16, RescaleIntercept -1024, 0.78 mm pixels, 2 mm slices, files in random
order) built from dcmqi's CT slice in testdata/, then times in interleaved
rounds the reading of the whole series into one volume of Hounsfield units:

  * pydicom: `dcmread` every file, sort by ImagePositionPatient along the
    normal, `np.stack` the pixel arrays and apply the rescale (float32);
  * SimpleITK: `ImageSeriesReader` on the files GDCM sorts
    (`GetGDCMSeriesFileNames`);
  * liverkit: `cargo bench --bench dicom_timer` (grouping, sorting, geometry
    checks and decoding), on 1 and 2 threads.

It checks that the three agree (sum of HU) and prints each peer's median time
as a multiple of liverkit's. Target: liverkit at least as fast as both.

    python3 benches/peers/dicom_vs_peers.py [--rounds 3] [--slices 300]
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "testdata", "dcmqi", "ct-3slice", "01.dcm")


def write_series(folder, slices):
    t = pydicom.dcmread(TEMPLATE)
    rng = np.random.default_rng(7)
    series, frame = generate_uid(), generate_uid()
    x, y = np.meshgrid(np.arange(512), np.arange(512))
    body = ((x - 256) ** 2 / 200**2 + (y - 256) ** 2 / 150**2) < 1
    order = list(range(slices))
    random.Random(3).shuffle(order)
    for n, k in enumerate(order):
        d = t.copy()
        d.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        d.SeriesInstanceUID, d.FrameOfReferenceUID = series, frame
        d.SOPInstanceUID = generate_uid()
        d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
        d.InstanceNumber = k + 1
        d.PixelSpacing = [0.78, 0.78]
        d.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        d.ImagePositionPatient = [-200.0, -200.0, -300.0 + 2.0 * k]
        d.SliceThickness = 2.0
        d.RescaleSlope, d.RescaleIntercept = 1, -1024
        img = np.where(body, 1024 + 40 + (k % 50), 0).astype(np.int16) + rng.integers(0, 20, (512, 512), dtype=np.int16)
        d.PixelRepresentation, d.BitsAllocated, d.BitsStored, d.HighBit = 1, 16, 16, 15
        d.Rows, d.Columns = 512, 512
        d.PixelData = img.tobytes()
        if "PixelPaddingValue" in d:
            del d.PixelPaddingValue
        d.save_as(os.path.join(folder, f"IM{n:05d}.dcm"), enforce_file_format=True)


def pydicom_read(folder):
    ds = [pydicom.dcmread(os.path.join(folder, f)) for f in os.listdir(folder)]
    iop = np.array(ds[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, dtype=float), normal)))
    vol = np.stack([d.pixel_array for d in ds]).astype(np.float32)
    return vol * float(ds[0].RescaleSlope) + float(ds[0].RescaleIntercept)


def sitk_read(folder):
    r = sitk.ImageSeriesReader()
    r.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
    return sitk.GetArrayFromImage(r.Execute())


def liverkit(folder, threads):
    out = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "dicom_timer", "--", folder, str(threads)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["sum"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slices", type=int, default=300)
    a = ap.parse_args()
    subprocess.run(["cargo", "bench", "-q", "--bench", "dicom_timer", "--no-run"], cwd=ROOT, check=True)
    folder = tempfile.mkdtemp(prefix="liverkit-dicom-")
    try:
        write_series(folder, a.slices)
        print(f"CT series 512x512x{a.slices}, explicit VR little endian, int16; "
              f"{a.rounds} interleaved rounds, median seconds")
        times = {"pydicom + numpy": [], "SimpleITK ImageSeriesReader": [], "liverkit (1 thread)": [], "liverkit (2 threads)": []}
        sums = {}
        for _ in range(a.rounds):
            t = time.perf_counter()
            v = pydicom_read(folder)
            times["pydicom + numpy"].append(time.perf_counter() - t)
            sums["pydicom"] = float(v.sum(dtype=np.float64))
            del v
            t = time.perf_counter()
            v = sitk_read(folder)
            times["SimpleITK ImageSeriesReader"].append(time.perf_counter() - t)
            sums["SimpleITK"] = float(v.sum(dtype=np.float64))
            del v
            for th in (1, 2):
                dt, s = liverkit(folder, th)
                times[f"liverkit ({th} thread{'s' if th > 1 else ''})"].append(dt)
                sums["liverkit"] = s
        ok = all(abs(s - sums["liverkit"]) <= 1e-9 * abs(sums["liverkit"]) for s in sums.values())
        if not ok:
            print(f"  DISAGREEMENT: sums {sums}", file=sys.stderr)
        lk = {th: statistics.median(times[f"liverkit ({th} thread{'s' if th > 1 else ''})"]) for th in (1, 2)}
        for name, ts in times.items():
            med = statistics.median(ts)
            if name.startswith("liverkit"):
                print(f"  {name:<30} {med:8.3f} s")
            else:
                print(f"  {name:<30} {med:8.3f} s   {med / lk[1]:5.1f}x liverkit (1 thread), {med / lk[2]:5.1f}x liverkit (2 threads)")
        print("all tools agree on the sum of HU" if ok else "TOOLS DISAGREE")
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
