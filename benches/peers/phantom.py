"""Generate the synthetic abdominal label map used by the peer comparisons.

512 x 512 x 300 voxels of 0.78 x 0.78 x 2.0 mm (a typical portal-venous CT),
with a liver-sized lobulated blob, three tumours, a portal vein tree, the IVC,
the aorta, spleen, kidneys and a vertebral column. Label values follow the
TotalSegmentator `total` map where one exists (5 liver, 63 IVC, 64 portal
vein, 52 aorta, 1 spleen, 2/3 kidneys); tumours are 200, 201, 202.

The generator is deterministic (fixed seed) and writes a NIfTI-1 file with
nibabel, with a TotalSegmentator-style XML label table in a header extension.

    python3 benches/peers/phantom.py OUT.nii.gz [--shape 512,512,300]
"""

import argparse

import nibabel as nib
import numpy as np

LABELS = {
    1: "spleen",
    2: "kidney_right",
    3: "kidney_left",
    5: "liver",
    52: "aorta",
    63: "inferior_vena_cava",
    64: "portal_vein_and_splenic_vein",
    200: "tumour_1",
    201: "tumour_2",
    202: "tumour_3",
    210: "vertebrae",
}


def label_table_extension():
    rows = "".join(
        f'<Label Key="{k}" Red="1.0" Green="0.0" Blue="0.0" Alpha="1"><![CDATA[{v}]]></Label>\n'
        for k, v in LABELS.items()
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension> <VolumeInformation Index="0"> '
        f"<LabelTable>\n{rows}</LabelTable> <VolumeType><![CDATA[Label]]></VolumeType> "
        "</VolumeInformation></CaretExtension>\n"
    )
    return nib.nifti1.Nifti1Extension(0, xml.encode())


def make(shape=(512, 512, 300), spacing=(0.78, 0.78, 2.0), seed=7):
    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    sx, sy, sz = spacing
    # World coordinates (RAS mm) of voxel centres, origin at the volume centre.
    x = (np.arange(nx) - nx / 2) * sx
    y = (np.arange(ny) - ny / 2) * sy
    z = (np.arange(nz) - nz / 2) * sz
    lab = np.zeros(shape, dtype=np.uint8, order="F")
    X, Y = np.meshgrid(x, y, indexing="ij")
    # Scale the organs with the field of view so that small test shapes stay sensible.
    fov = min(nx * sx, ny * sy) / 400.0
    zfov = nz * sz / 600.0
    tumours = [
        ((70 * fov, 10 * fov, 20 * zfov), 18 * fov, 200),
        ((40 * fov, -20 * fov, -10 * zfov), 11 * fov, 201),
        ((95 * fov, 25 * fov, 45 * zfov), 7 * fov, 202),
    ]
    phase = rng.uniform(0, 2 * np.pi, size=4)
    for k in range(nz):
        zk = z[k]
        sl = lab[:, :, k]
        # Vertebral column: a cylinder behind the organs.
        sl[(X - 0) ** 2 + (Y + 60 * fov) ** 2 < (20 * fov) ** 2] = 210
        # Liver: lobulated ellipsoid on the patient's right (+x in RAS).
        ang = np.arctan2(Y, X - 60 * fov)
        bump = 1 + 0.08 * np.sin(3 * ang + phase[0]) + 0.05 * np.sin(5 * ang + phase[1] + zk / 15)
        r = ((X - 60 * fov) / (88 * fov)) ** 2 + (Y / (65 * fov)) ** 2 + (zk / (75 * zfov)) ** 2
        sl[r < bump**2] = 5
        # Spleen on the left (-x), kidneys low and posterior.
        sl[((X + 90 * fov) / (45 * fov)) ** 2 + ((Y + 20 * fov) / (30 * fov)) ** 2 + ((zk - 30 * zfov) / (50 * zfov)) ** 2 < 1] = 1
        sl[((X - 65 * fov) / (28 * fov)) ** 2 + ((Y + 45 * fov) / (22 * fov)) ** 2 + ((zk + 90 * zfov) / (55 * zfov)) ** 2 < 1] = 2
        sl[((X + 65 * fov) / (28 * fov)) ** 2 + ((Y + 45 * fov) / (22 * fov)) ** 2 + ((zk + 85 * zfov) / (55 * zfov)) ** 2 < 1] = 3
        # Aorta and IVC run along z.
        sl[(X + 15 * fov) ** 2 + (Y + 30 * fov) ** 2 < (11 * fov) ** 2] = 52
        sl[(X - 25 * fov) ** 2 + (Y + 25 * fov) ** 2 < (12 * fov) ** 2] = 63
        # Portal vein: an oblique tube entering the liver, with two branches.
        for (cx, cy, dz, rad) in ((30, 0, -0.3, 7), (60, 15, 0.4, 4), (55, -20, -0.5, 3.5)):
            if abs(zk) > 70 * zfov:
                continue
            px = (cx + dz * zk / zfov) * fov
            sl[(X - px) ** 2 + (Y - cy * fov) ** 2 < (rad * fov) ** 2] = 64
        for (c, rad, value) in tumours:
            d2 = (X - c[0]) ** 2 + (Y - c[1]) ** 2 + (zk - c[2]) ** 2
            sl[d2 < rad**2] = value
    return lab


def affine_for(shape, spacing):
    aff = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    aff[:3, 3] = [-(shape[i] / 2) * spacing[i] for i in range(3)]
    return aff


def save(lab, spacing, path):
    img = nib.Nifti1Image(lab, affine_for(lab.shape, spacing))
    img.header.set_xyzt_units("mm")
    img.header.extensions.append(label_table_extension())
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    nib.save(img, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="+")
    ap.add_argument("--shape", default="512,512,300")
    ap.add_argument("--spacing", default="0.78,0.78,2.0")
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.shape.split(","))
    spacing = tuple(float(v) for v in a.spacing.split(","))
    lab = make(shape, spacing)
    for out in a.out:
        save(lab, spacing, out)


if __name__ == "__main__":
    main()
