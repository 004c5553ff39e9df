"""Generate the shipped sample case: a liver before and after portal vein embolisation.

A synthetic but anatomically arranged liver on an anisotropic CT grid: a
right lobe and a tapering left lobe, the inferior vena cava carved out
behind the caudate, the eight Couinaud segments cut by the planes of the
hepatic veins and the portal bifurcation, and two colorectal metastases in
the right liver (segments 7/8 and 6). The post-PVE scan, four weeks later on
another grid, has a grown left liver and a shrunken right liver.

Labels follow TotalSegmentator's names: 1-8 `liver_segment_1..8`,
9 `liver_tumor` (stored in a NIfTI label-table extension), so that
`liverkit remnant` finds every role by itself.

    python3 testdata/make_sample_case.py   # writes testdata/sample_case/*.nii.gz
"""

import gzip
import os

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sample_case")

NAMES = {**{s: f"liver_segment_{s}" for s in range(1, 9)}, 9: "liver_tumor"}


def label_table():
    rows = "".join(f'<Label Key="{k}" Red="1" Green="0" Blue="0" Alpha="1"><![CDATA[{v}]]></Label>\n' for k, v in NAMES.items())
    xml = ('<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation Index="0"><LabelTable>\n'
           f"{rows}</LabelTable></VolumeInformation></CaretExtension>")
    return nib.nifti1.Nifti1Extension(0, xml.encode())


def world(shape, spacing, origin):
    """RAS+ world coordinates (mm) of every voxel centre, as three arrays."""
    axes = [origin[a] + spacing[a] * np.arange(shape[a]) for a in range(3)]
    return np.meshgrid(*axes, indexing="ij")


def liver_case(shape, spacing, origin, left_scale=1.0, right_scale=1.0):
    x, y, z = world(shape, spacing, origin)
    lab = np.zeros(shape, dtype=np.uint8)
    # Right lobe (patient's right is +x in RAS) and left lobe, scaled about their centres.
    rs, ls = right_scale, left_scale
    right = ((x - 55) / (62 * rs)) ** 2 + ((y + 5) / (60 * rs)) ** 2 + ((z + 5) / (66 * rs)) ** 2 < 1
    left = ((x + 25) / (58 * ls)) ** 2 + ((y - 12) / (40 * ls)) ** 2 + ((z - 18) / (30 * ls)) ** 2 < 1
    liver = right | left
    ivc = (x - 8) ** 2 + (y + 48) ** 2 < 12**2
    liver &= ~ivc
    # Couinaud segments: middle hepatic vein plane (Cantlie's line) between
    # right and left liver, right hepatic vein plane between the anterior and
    # posterior right sectors, umbilical fissure between 4 and 2/3, the portal
    # plane between superior and inferior segments, the caudate behind.
    right_liver = x > 12 + 0.35 * y
    anterior = (y - 0.55 * (x - 45)) > -8
    medial = x > -22
    superior = z > 4
    superior_left = z > 16  # the left lobe sits higher
    seg = np.zeros(shape, dtype=np.uint8)
    seg[right_liver & anterior & ~superior] = 5
    seg[right_liver & ~anterior & ~superior] = 6
    seg[right_liver & ~anterior & superior] = 7
    seg[right_liver & anterior & superior] = 8
    seg[~right_liver & medial] = 4
    seg[~right_liver & ~medial & superior_left] = 2
    seg[~right_liver & ~medial & ~superior_left] = 3
    caudate = ((x - 8) / 20) ** 2 + ((y + 30) / 12) ** 2 + ((z - 2) / 28) ** 2 < 1
    seg[caudate] = 1
    lab[liver] = seg[liver]
    # Two metastases in the right liver (they shrink with the right liver).
    for c, r in [((78, -22, 34), 17.0), ((70, -30, -30), 10.0)]:
        cx, cy, cz = 55 + (c[0] - 55) * rs, -5 + (c[1] + 5) * rs, -5 + (c[2] + 5) * rs
        lab[((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < r**2) & liver] = 9
    return lab


def ablation_zone(shape, spacing, origin):
    """Microwave ablation zones around the pre-PVE tumours: spheres 11 mm larger
    than each tumour, placed 2-3 mm off centre (as needles rarely sit exactly)."""
    x, y, z = world(shape, spacing, origin)
    zone = np.zeros(shape, dtype=np.uint8)
    for (c, r), off in zip([((78, -22, 34), 17.0), ((70, -30, -30), 10.0)], [(2.0, 0.0, -1.5), (-2.0, 1.0, 1.0)]):
        zone[(x - c[0] - off[0]) ** 2 + (y - c[1] - off[1]) ** 2 + (z - c[2] - off[2]) ** 2 < (r + 11.0) ** 2] = 1
    return zone


def save(lab, spacing, origin, name, names=True):
    aff = np.diag(list(spacing) + [1.0])
    aff[:3, 3] = origin
    img = nib.Nifti1Image(lab, aff)
    img.set_sform(aff, code=1)
    img.set_qform(aff, code=1)
    img.header.set_xyzt_units("mm")
    if names:
        img.header.extensions.append(label_table())
    path = os.path.join(OUT, name)
    nib.save(img, path)
    with gzip.open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Pre-PVE: 0.78 x 0.78 x 2.5 mm, 300 x 260 x 80 voxels.
    shape, spacing, origin = (300, 260, 80), (0.78, 0.78, 2.5), (-110.0, -110.0, -95.0)
    save(liver_case(shape, spacing, origin), spacing, origin, "pre_pve.nii.gz")
    save(ablation_zone(shape, spacing, origin), spacing, origin, "ablation_zone.nii.gz", names=False)
    # Post-PVE, four weeks later, another scanner protocol: 0.7 x 0.7 x 2.0 mm,
    # a different field of view; left liver grown, right liver shrunk.
    shape, spacing, origin = (330, 300, 100), (0.7, 0.7, 2.0), (-105.0, -112.0, -97.0)
    save(liver_case(shape, spacing, origin, left_scale=1.2, right_scale=0.95), spacing, origin, "post_pve.nii.gz")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
