"""Expected values for liverkit's DICOM and NRRD tests, computed independently
with pydicom (+ pylibjpeg for JPEG 2000), highdicom and pynrrd.

Conventions written out here, as the tests compare against them:

* World coordinates are RAS+ mm (DICOM and NRRD LPS values with x and y
  negated).
* A series' voxel (i, j, k) is column i, row j of the k-th slice, slices
  sorted by ascending position along the normal row x column of
  ImageOrientationPatient; the slice step is the median difference of those
  positions.
* Segment voxel counts, volumes in mL and centroids in world mm do not depend
  on axis order, so SEGs are compared through them (highdicom's own volume
  geometry), plus the spacing as a sorted triple.

    python3 testdata/formats_expected.py          # rewrite expected/formats.json
    python3 testdata/formats_expected.py --check  # recompute and compare (CI)
"""

import glob
import json
import math
import os
import sys

import highdicom as hd
import nrrd
import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from expected import close  # noqa: E402  (the same recursive comparison)

OUT = os.path.join(HERE, "expected", "formats.json")

SERIES = [
    "totalsegmentator/example_ct_dicom",
    "dcmqi/ct-3slice",
    "pydicom/CT_small.dcm",
    "pydicom/MR_small.dcm",
    "pydicom/MR_small_RLE.dcm",
    "pydicom/MR_small_bigendian.dcm",
    "pydicom/MR_small_implicit.dcm",
    "pydicom/MR_small_jp2klossless.dcm",
    "pydicom-data/eCT_Supplemental.dcm",
]

SEGS = [
    "dcmqi/liver.dcm",
    "dcmqi/partial_overlaps.dcm",
    "pydicom-data/liver_expb.dcm",
    "pydicom-data/liver_j2k.dcm",
    "pydicom-data/liver_rle.dcm",
    "pydicom-data/liver_nonbyte_aligned.dcm",
    "pydicom-data/liver_nonbyte_aligned_rle.dcm",
    "pydicom-data/liver_deflate.dcm",
    "highdicom/seg_image_ct_binary.dcm",
    "highdicom/seg_image_ct_binary_fractional.dcm",
    "highdicom/seg_image_ct_true_fractional.dcm",
    "highdicom/seg_image_ct_binary_overlap.dcm",
    "highdicom/seg_image_ct_binary_single_frame.dcm",
]

NRRDS = [
    "dcmqi/liver_seg.nrrd",
    "dcmqi/liver_spine_seg.nrrd",
    "dcmqi/liver_spine_gapped_seg.nrrd",
    "dcmqi/partial_overlaps-1.nrrd",
    "slicerio/CTChest4.nrrd",
    "slicerio/Segmentation.seg.nrrd",
    "slicerio/SegmentationOverlapping.seg.nrrd",
]


def ras(v):
    return [-float(v[0]), -float(v[1]), float(v[2])]


def series(rel):
    path = os.path.join(HERE, rel)
    files = sorted(glob.glob(os.path.join(path, "*"))) if os.path.isdir(path) else [path]
    ds = [pydicom.dcmread(f) for f in files]
    first = ds[0]
    if "PerFrameFunctionalGroupsSequence" in first:
        # Enhanced multi-frame: geometry and rescale in the functional groups.
        shared = first.SharedFunctionalGroupsSequence[0]
        iop = [float(x) for x in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
        ps = [float(x) for x in shared.PixelMeasuresSequence[0].PixelSpacing]
        pvt = shared.PixelValueTransformationSequence[0]
        slope, inter = float(pvt.RescaleSlope), float(pvt.RescaleIntercept)
        frames = first.pixel_array.astype(np.float64) * slope + inter
        slices = [
            ([float(x) for x in g.PlanePositionSequence[0].ImagePositionPatient], frames[k])
            for k, g in enumerate(first.PerFrameFunctionalGroupsSequence)
        ]
    else:
        iop = [float(x) for x in first.ImageOrientationPatient]
        ps = [float(x) for x in first.PixelSpacing]
        slices = []
        for d in ds:
            slope = float(getattr(d, "RescaleSlope", 1.0))
            inter = float(getattr(d, "RescaleIntercept", 0.0))
            slices.append(([float(x) for x in d.ImagePositionPatient], d.pixel_array.astype(np.float64) * slope + inter))
    row, col = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row, col)
    slices.sort(key=lambda s: float(np.dot(s[0], normal)))
    pos = [float(np.dot(s[0], normal)) for s in slices]
    step = float(np.median(np.diff(pos))) if len(pos) > 1 else None
    vol = np.stack([s[1] for s in slices])  # (k, row, col)
    origin = slices[0][0]
    affine = np.eye(4)
    affine[:3, 0] = ras(row * ps[1])
    affine[:3, 1] = ras(col * ps[0])
    if step is not None:
        affine[:3, 2] = ras(normal * step)
    affine[:3, 3] = ras(origin)
    k, r, c = vol.shape
    samples = []
    for (i, j, kk) in [(0, 0, 0), (c // 2, r // 2, k // 2), (c - 1, r - 1, k - 1), (c // 3, r // 4, 0)]:
        samples.append([i, j, kk, float(vol[kk, j, i])])
    return {
        "dims": [c, r, k],
        "affine": affine.tolist() if step is not None else None,
        "spacing_mm": [ps[1], ps[0], step],
        "sum": float(vol.sum()),
        "min": float(vol.min()),
        "max": float(vol.max()),
        "samples": samples,
        "transfer_syntax": str(first.file_meta.TransferSyntaxUID),
        "date": next(
            (
                f"{v[0:4]}-{v[4:6]}-{v[6:8]}"
                for v in (first.get("AcquisitionDate"), first.get("SeriesDate"), first.get("StudyDate"))
                if v
            ),
            None,
        ),
    }


def seg(rel):
    path = os.path.join(HERE, rel)
    try:
        s = hd.seg.segread(path)
    except Exception as e:  # a transfer syntax pydicom cannot decode
        return {"skipped": f"highdicom cannot read it: {type(e).__name__}: {e}"}
    numbers = [int(x.SegmentNumber) for x in s.SegmentSequence]
    fractional = s.segmentation_type.value == "FRACTIONAL"
    try:
        v = s.get_volume(combine_segments=False, skip_overlap_checks=True, rescale_fractional=True)
    except Exception as e:
        return {"skipped": f"highdicom cannot build a volume: {type(e).__name__}: {e}"}
    arr = np.asarray(v.array)  # (slices, rows, cols, segments)
    aff = np.asarray(v.affine)  # LPS, array order
    spacing = sorted(float(np.linalg.norm(aff[:3, a])) for a in range(3))
    voxel_ml = abs(np.linalg.det(aff[:3, :3])) / 1000.0
    out = {"segments": {}, "spacing_sorted_mm": spacing, "fractional": fractional}
    for n_idx, number in enumerate(numbers):
        a = arr[..., n_idx]
        mask = a >= 0.5 if fractional else a > 0
        idx = np.argwhere(mask)
        entry = {"label": str(s.SegmentSequence[n_idx].SegmentLabel), "voxels": int(mask.sum()), "volume_ml": float(mask.sum() * voxel_ml)}
        if len(idx):
            mean = idx.mean(axis=0)
            world = aff[:3, :3] @ mean + aff[:3, 3]
            entry["centroid_mm"] = ras(world)
        if fractional:
            entry["fractional_ml"] = float(a.sum() * voxel_ml)
        out["segments"][str(number)] = entry
    return out


def nrrd_file(rel):
    data, h = nrrd.read(os.path.join(HERE, rel), index_order="F")
    space = h.get("space", "")
    flip = {"left-posterior-superior": [-1, -1, 1], "right-anterior-superior": [1, 1, 1]}[space]
    dirs = np.array(h["space directions"], dtype=object)
    layered = data.ndim == 4
    rows = [d for d in dirs if d is not None and not (isinstance(d, float) and math.isnan(d))]
    dmat = np.array([[float(x) for x in d] for d in rows if np.all(np.isfinite(np.array(d, dtype=float)))])
    affine = np.eye(4)
    for c in range(3):
        affine[:3, c] = np.array(flip) * dmat[c]
    affine[:3, 3] = np.array(flip) * np.array(h["space origin"], dtype=float)
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    out = {"dims": list(data.shape[1:] if layered else data.shape), "affine": affine.tolist(), "layers": data.shape[0] if layered else 1}
    # Segments of a .seg.nrrd, by (layer, value); plain label maps by value.
    segs = {}
    n = 0
    while f"Segment{n}_Name" in h:
        segs[n] = (h[f"Segment{n}_Name"], int(h.get(f"Segment{n}_Layer", 0)), int(h.get(f"Segment{n}_LabelValue", 1)))
        n += 1
    labels = {}
    if segs:
        for k, (name, layer, value) in segs.items():
            layer_data = data[layer] if layered else data
            count = int((layer_data == value).sum())
            labels[name] = {"voxels": count, "volume_ml": count * voxel_ml}
    elif data.dtype.kind in "iu" and len(np.unique(data)) < 50:
        for v in np.unique(data):
            if v != 0:
                count = int((data == v).sum())
                labels[str(int(v))] = {"voxels": count, "volume_ml": count * voxel_ml}
    else:
        out["sum"] = float(data.astype(np.float64).sum())
    out["labels"] = labels
    return out


def compute():
    return {
        "series": {rel: series(rel) for rel in SERIES},
        "seg": {rel: seg(rel) for rel in SEGS},
        "nrrd": {rel: nrrd_file(rel) for rel in NRRDS},
    }


def main():
    fresh = compute()
    if "--check" in sys.argv:
        with open(OUT) as f:
            committed = json.load(f)
        problem = close(fresh, committed)
        if problem:
            print("expected values differ from pydicom/highdicom/pynrrd:", problem, file=sys.stderr)
            sys.exit(1)
        print("expected DICOM and NRRD values agree with pydicom, highdicom and pynrrd")
        return
    with open(OUT, "w") as f:
        json.dump(fresh, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
