"""Writing a DICOM SEG: liverkit against highdicom, same mask, same series, same run.

Writes the 512 x 512 x 300 CT series of dicom_vs_peers.py, draws an
ellipsoid "liver" on its grid (the formula of benches/seg_timer.rs), then
times in interleaved rounds the writing of a BINARY SEG of it that refers
to the series (source images not timed for either tool):

  * highdicom: `highdicom.seg.Segmentation(...)` from the pydicom datasets
    and the boolean array, then `save_as`;
  * liverkit: `cargo bench --bench seg_timer` (frames, references, bit
    packing, the file), on 1 and 2 threads.

Both SEGs are read back with highdicom and must hold the same voxels. Prints
highdicom's median time as a multiple of liverkit's. Target: liverkit
<= 1 s on 2 cores.

    python3 benches/peers/seg_vs_highdicom.py [--rounds 3] [--slices 300]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import highdicom as hd
import numpy as np
import pydicom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dicom_vs_peers import ROOT, write_series  # noqa: E402


def ellipsoid(shape_kji):
    """The mask as pixel arrays go: [slice k, row j, column i]."""
    nk, nj, ni = shape_kji
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    c, r = (ni / 2, nj / 2, nk / 2), (0.35 * ni, 0.25 * nj, 0.37 * nk)
    return ((i - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((k - c[2]) / r[2]) ** 2 < 1.0


def highdicom_write(sources, mask, out):
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            hd.seg.SegmentDescription(
                segment_number=1,
                segment_label="Liver",
                segmented_property_category=hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure"),
                segmented_property_type=hd.sr.CodedConcept("10200004", "SCT", "Liver"),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=hd.AlgorithmIdentificationSequence(
                    name="phantom", version="1", family=hd.sr.CodedConcept("123109", "DCM", "Manual Processing")
                ),
            )
        ],
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="peer",
        manufacturer_model_name="peer",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(out)


def liverkit(folder, out, threads):
    text = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "seg_timer", "--", folder, out, str(threads)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(text.strip().splitlines()[-1])


def voxels_of(path):
    return int(np.count_nonzero(hd.seg.segread(path).get_volume(combine_segments=True).array))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slices", type=int, default=300)
    a = ap.parse_args()
    subprocess.run(["cargo", "bench", "-q", "--bench", "seg_timer", "--no-run"], cwd=ROOT, check=True)
    folder = tempfile.mkdtemp(prefix="liverkit-seg-")
    out_dir = tempfile.mkdtemp(prefix="liverkit-seg-out-")
    try:
        write_series(folder, a.slices)
        sources = [pydicom.dcmread(os.path.join(folder, f)) for f in sorted(os.listdir(folder))]
        sources.sort(key=lambda d: float(d.ImagePositionPatient[2]))
        for d in sources:
            # The template CT leaves it empty, which highdicom refuses.
            d.SpecificCharacterSet = "ISO_IR 100"
        mask = ellipsoid((a.slices, 512, 512))
        print(f"BINARY SEG of a {int(mask.sum())}-voxel mask on a 512x512x{a.slices} CT series; "
              f"{a.rounds} interleaved rounds, median seconds")
        times = {"highdicom": [], "liverkit (1 thread)": [], "liverkit (2 threads)": []}
        lk_voxels = None
        for _ in range(a.rounds):
            t = time.perf_counter()
            highdicom_write(sources, mask, os.path.join(out_dir, "hd.dcm"))
            times["highdicom"].append(time.perf_counter() - t)
            for th in (1, 2):
                r = liverkit(folder, os.path.join(out_dir, "lk.dcm"), th)
                times[f"liverkit ({th} thread{'s' if th > 1 else ''})"].append(r["seconds"])
                lk_voxels = r["voxels"]
        counts = {"mask": int(mask.sum()), "liverkit": lk_voxels,
                  "highdicom read of highdicom": voxels_of(os.path.join(out_dir, "hd.dcm")),
                  "highdicom read of liverkit": voxels_of(os.path.join(out_dir, "lk.dcm"))}
        ok = len(set(counts.values())) == 1
        lk = {th: statistics.median(times[f"liverkit ({th} thread{'s' if th > 1 else ''})"]) for th in (1, 2)}
        for name, ts in times.items():
            med = statistics.median(ts)
            if name.startswith("liverkit"):
                print(f"  {name:<24} {med:8.3f} s")
            else:
                print(f"  {name:<24} {med:8.3f} s   {med / lk[1]:5.1f}x liverkit (1 thread), "
                      f"{med / lk[2]:5.1f}x liverkit (2 threads)")
        print("all agree on the voxels" if ok else f"DISAGREEMENT: {counts}")
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
