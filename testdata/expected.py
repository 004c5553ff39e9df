"""Expected values for liverkit's tests, computed independently with nibabel + numpy.

For every test file this records the grid (dims, spacing, |det|, affine,
orientation) as nibabel reads it, the label names of the XML label table
(parsed with xml.etree), and per label: voxel count, volume in mL, bounding
box, centroid in world mm and voxels on each face of the volume. Intensity
images get sums and sample values of the scaled data.

Where NIfTI rules and nibabel differ, this script applies the NIfTI rule
itself and says so: nibabel ignores `xyzt_units` (liverkit converts metres and
microns to mm), and for a header with neither sform nor qform nibabel centres
and x-flips the ANALYZE affine, while nifti1.h "method 1" (liverkit, ITK) maps
voxel (i, j, k) to (i·dx, j·dy, k·dz).

    python3 testdata/expected.py          # rewrite testdata/expected/nibabel.json
    python3 testdata/expected.py --check  # recompute and compare (CI)
"""

import json
import math
import os
import sys
import xml.etree.ElementTree as ET

import nibabel as nib
import numpy as np
from scipy.ndimage import distance_transform_edt

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "expected", "nibabel.json")

LABEL_FILES = [
    "totalsegmentator/example_seg.nii.gz",
    "totalsegmentator/example_seg_fast.nii.gz",
    "totalsegmentator/example_seg_fast_force_split.nii.gz",
    "totalsegmentator/example_seg_mr.nii.gz",
    "totalsegmentator/example_seg_roi_subset.nii.gz",
    "totalsegmentator/example_seg_dicom.nii.gz",
    "totalsegmentator/example_seg_fast/liver.nii.gz",
    "totalsegmentator/example_seg_fast/spleen.nii.gz",
    "totalsegmentator/example_seg_fast/gallbladder.nii.gz",
    "totalsegmentator/example_seg_fast/inferior_vena_cava.nii.gz",
    "totalsegmentator/example_seg_fast/portal_vein_and_splenic_vein.nii.gz",
    "nibabel/standard.nii.gz",
    "generated/oblique.nii.gz",
    "generated/bigendian_int16.nii",
    "generated/pair_int16.hdr",
    "generated/pair_uint8.img.gz",
    "generated/nifti2_int32.nii.gz",
    "generated/units_meter.nii.gz",
    "generated/units_micron.nii.gz",
    "generated/qform_only.nii.gz",
    "generated/no_xform.nii.gz",
    "generated/scaled_labels.nii.gz",
    "generated/det_mismatch.nii.gz",
    "generated/grid_a.nii.gz",
    "generated/grid_b.nii.gz",
] + [f"generated/dtype_{t}.nii.gz" for t in ["int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"]] + [
    "generated/dtype_uint8.nii",
]

INTENSITY_FILES = [
    "totalsegmentator/example_ct_sm.nii.gz",
    "generated/intensity_scaled.nii.gz",
    "nibabel/anatomical.nii",
    "nibabel/reoriented_anat_moved.nii",
    "nibabel/resampled_anat_moved.nii",
]

HEADER_FILES = [
    "nibabel/example4d.nii.gz",
    "nibabel/example_nifti2.nii.gz",
    "nibabel/functional.nii",
]

MM_PER_UNIT = {0: 1.0, 1: 1000.0, 2: 1.0, 3: 0.001}

# Plane cuts of real livers: (file, liver label, offset of the plane's point
# from the liver centroid in mm, normal towards the removed side).
PLANE_CUTS = [
    ("totalsegmentator/example_seg_fast_force_split.nii.gz", 5, (5.0, 0.0, -10.0), (0.6, -0.3, 0.74)),
    ("totalsegmentator/example_seg_mr.nii.gz", 5, (-12.0, 4.0, 0.0), (-1.0, 0.2, 0.1)),
]


def geometry(img):
    h = img.header
    dims = [int(d) for d in img.shape[:3]] + [1] * (3 - len(img.shape[:3]))
    scale = MM_PER_UNIT[int(h["xyzt_units"]) & 7]
    if int(h["sform_code"]) == 0 and int(h["qform_code"]) == 0:
        # nifti1.h method 1 (nibabel would centre and flip x here).
        aff = np.diag(list(h.get_zooms()[:3]) + [1.0]).astype(float)
    else:
        aff = img.affine.astype(float).copy()
    aff[:3, :] *= scale
    codes = "".join(nib.aff2axcodes(aff))
    return {
        "dims": dims,
        "all_dims": [int(d) for d in img.shape],
        "spacing_mm": [float(v) for v in np.linalg.norm(aff[:3, :3], axis=0)],
        "voxel_volume_mm3": float(abs(np.linalg.det(aff[:3, :3]))),
        "orientation": codes,
        "affine": aff.tolist(),
        "nifti_version": 2 if isinstance(h, nib.Nifti2Header) else 1,
    }, aff


def names_of(img):
    for ext in img.header.extensions:
        content = ext.get_content()
        if isinstance(content, bytes) and b"<LabelTable" in content:
            root = ET.fromstring(content.rstrip(b"\0 \n\r\t").decode())
            return {int(e.get("Key")): (e.text or "").strip() for e in root.iter("Label")}
    return {}


def label_stats(path):
    img = nib.load(path)
    geo, aff = geometry(img)
    raw = np.asanyarray(img.dataobj.get_unscaled())  # labels are read raw
    vv = geo["voxel_volume_mm3"]
    labels = {}
    for v in np.unique(raw):
        if v == 0:
            continue
        idx = np.nonzero(raw == v)
        n = len(idx[0])
        mean = [float(np.mean(a)) for a in idx]
        centroid = aff @ np.array(mean + [1.0])
        faces = []
        for axis in range(3):
            faces.append(int(np.sum(idx[axis] == 0)))
            faces.append(int(np.sum(idx[axis] == raw.shape[axis] - 1)))
        labels[str(int(v))] = {
            "voxels": n,
            "volume_ml": n * vv / 1000.0,
            "bbox_min": [int(a.min()) for a in idx],
            "bbox_max": [int(a.max()) for a in idx],
            "centroid_mm": [float(c) for c in centroid[:3]],
            "faces": faces,
        }
    geo["kind"] = "labels"
    geo["dtype"] = str(raw.dtype)
    geo["names"] = {str(k): v for k, v in sorted(names_of(img).items())}
    geo["labels"] = labels
    return geo


def intensity_stats(path):
    img = nib.load(path)
    geo, _ = geometry(img)
    data = np.asarray(img.get_fdata(dtype=np.float64))
    finite = np.isfinite(data)
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(12):
        ijk = [int(rng.integers(0, n)) for n in data.shape[:3]]
        val = float(data[tuple(ijk)])
        samples.append(ijk + [None if math.isnan(val) else val])
    geo["kind"] = "intensity"
    geo["intensity"] = {
        "sum": float(np.sum(data[finite])),
        "min": float(np.min(data[finite])),
        "max": float(np.max(data[finite])),
        "nan_count": int(np.sum(~finite)),
        "samples": samples,
    }
    return geo


def header_only(path):
    geo, _ = geometry(nib.load(path))
    geo["kind"] = "header"
    return geo


# Distance transforms of real livers checked against scipy: (file, label,
# whether to also write the whole inside transform as a NIfTI file).
EDT_CASES = [
    ("totalsegmentator/example_seg_fast.nii.gz", 5, True),
    ("totalsegmentator/example_seg_dicom.nii.gz", 5, False),
    ("totalsegmentator/example_seg_mr.nii.gz", 5, False),
]


def edt_case(rel, label, write_full):
    """scipy's exact EDT, inside and outside the liver, with the spacing of
    the affine's columns (what liverkit uses)."""
    img = nib.load(os.path.join(HERE, rel))
    _, aff = geometry(img)
    spacing = np.linalg.norm(aff[:3, :3], axis=0)
    liver = np.asanyarray(img.dataobj.get_unscaled()) == label
    rng = np.random.default_rng(42)
    out = {"file": rel, "label": label, "spacing_mm": [float(v) for v in spacing]}
    for name, field in [("inside", distance_transform_edt(liver, sampling=spacing)),
                        ("outside", distance_transform_edt(~liver, sampling=spacing))]:
        where = np.argwhere(liver) if name == "inside" else np.argwhere(np.ones_like(liver))
        pick = where[rng.choice(len(where), size=min(400, len(where)), replace=False)]
        out[name] = {
            "sum": float(field.sum()),
            "max": float(field.max()),
            "samples": [[int(p[0]), int(p[1]), int(p[2]), float(field[tuple(p)])] for p in pick],
        }
        if name == "inside" and write_full:
            target = os.path.join("expected", "scipy_edt_inside_" + os.path.basename(rel))
            full = nib.Nifti1Image(field.astype(np.float32), img.affine)
            full.set_sform(img.affine, code=1)
            full.header.set_xyzt_units(int(img.header["xyzt_units"]) & 7 or "mm")
            if "--check" not in sys.argv:
                nib.save(full, os.path.join(HERE, target))
            out["inside_file"] = target
    return out


def plane_cut(rel, label, offset, normal):
    """Liver kept on the side of the plane opposite to the normal (numpy)."""
    img = nib.load(os.path.join(HERE, rel))
    _, aff = geometry(img)
    liver = np.asanyarray(img.dataobj.get_unscaled()) == label
    idx = np.nonzero(liver)
    pts = aff @ np.vstack([idx[0], idx[1], idx[2], np.ones(len(idx[0]))])
    centroid = pts[:3].mean(axis=1)
    point = centroid + np.array(offset)
    n = np.array(normal, dtype=float)
    kept = ((pts[:3] - point[:, None]) * n[:, None]).sum(axis=0) <= 0
    vv = abs(np.linalg.det(aff[:3, :3]))
    return {
        "file": rel,
        "label": label,
        "point_mm": [float(v) for v in point],
        "normal": list(normal),
        "liver_voxels": int(liver.sum()),
        "remnant_voxels": int(kept.sum()),
        "total_liver_ml": float(liver.sum() * vv / 1000.0),
        "remnant_ml": float(kept.sum() * vv / 1000.0),
        "flr_pct": float(100.0 * kept.sum() / liver.sum()),
    }


def compute():
    files = {}
    for rel in LABEL_FILES:
        files[rel] = label_stats(os.path.join(HERE, rel))
    for rel in INTENSITY_FILES:
        files[rel] = intensity_stats(os.path.join(HERE, rel))
    for rel in HEADER_FILES:
        files[rel] = header_only(os.path.join(HERE, rel))
    cuts = [plane_cut(*c) for c in PLANE_CUTS]
    edts = [edt_case(*c) for c in EDT_CASES]
    return {
        "edt": edts,
        "generator": "testdata/expected.py (nibabel %s, numpy %s)" % (nib.__version__, np.__version__),
        "files": files,
        "plane_cuts": cuts,
    }


def close(a, b, path="$"):
    """Recursive comparison with a relative float tolerance of 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys differ: {sorted(set(a) ^ set(b))}"
        for k in a:
            if k == "generator":
                continue
            r = close(a[k], b[k], f"{path}.{k}")
            if r:
                return r
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: lengths differ"
        for n, (x, y) in enumerate(zip(a, b)):
            r = close(x, y, f"{path}[{n}]")
            if r:
                return r
        return None
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
            return f"{path}: {a} != {b}"
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    fresh = compute()
    if "--check" in sys.argv:
        with open(OUT) as f:
            committed = json.load(f)
        problem = close(fresh, committed)
        if problem:
            print("expected values differ from nibabel's:", problem, file=sys.stderr)
            sys.exit(1)
        print(f"expected values agree with nibabel for {len(fresh['files'])} files")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fresh, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
