"""Write the generated test files in testdata/generated/ and testdata/bad/.

Valid files are written by nibabel (an implementation independent of
liverkit); broken files are made by patching the bytes of a valid header.
The output is deterministic: run it again and `git status` shows no change.

    python3 testdata/generate.py
"""

import gzip
import os
import struct
import sys

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "generated")
BAD = os.path.join(HERE, "bad")


def rot(axis, deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    m = np.eye(3)
    a, b = [(1, 2), (0, 2), (0, 1)][axis]
    m[a, a], m[a, b], m[b, a], m[b, b] = c, -s, s, c
    return m


def small_labels(shape=(23, 17, 11)):
    """A small label map with an ellipsoid (1), a sphere (2) and a slab (7)."""
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    lab = np.zeros(shape, dtype=np.int64)
    lab[((i - 10) / 7.0) ** 2 + ((j - 8) / 5.0) ** 2 + ((k - 5) / 4.0) ** 2 < 1] = 1
    lab[(i - 17) ** 2 + (j - 4) ** 2 + (k - 7) ** 2 < 9] = 2
    lab[:, :, 0] = np.where(j[:, :, 0] < 3, 7, lab[:, :, 0])  # touches the k_min and j_min faces
    return lab


def write_gzip_deterministic(path, raw):
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw)


def save(img, name):
    """Save through nibabel, then rewrite .gz files with a fixed gzip mtime."""
    path = os.path.join(GEN, name)
    nib.save(img, path)
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            raw = f.read()
        write_gzip_deterministic(path, raw)
    return path


def label_table(names):
    rows = "".join(f'<Label Key="{k}" Red="1" Green="0" Blue="0" Alpha="1"><![CDATA[{v}]]></Label>\n' for k, v in names.items())
    xml = f'<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation Index="0"><LabelTable>\n{rows}</LabelTable></VolumeInformation></CaretExtension>'
    return nib.nifti1.Nifti1Extension(0, xml.encode())


def generated():
    os.makedirs(GEN, exist_ok=True)
    lab = small_labels()

    # Oblique: rotated 30 degrees about z and 30 degrees about x, anisotropic spacing.
    aff = np.eye(4)
    aff[:3, :3] = rot(2, 30) @ rot(0, 30) @ np.diag([0.7, 0.9, 2.5])
    aff[:3, 3] = [-40.0, 12.5, 80.0]
    img = nib.Nifti1Image(lab.astype(np.uint8), aff)
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    img.header.set_xyzt_units("mm")
    img.header.extensions.append(label_table({1: "ellipsoid", 2: "sphere", 7: "slab"}))
    save(img, "oblique.nii.gz")

    # Every integer and real datatype, same labels (and values only wide types hold).
    base = np.diag([0.8, 0.8, 2.0, 1.0])
    base[:3, 3] = [-9.0, -7.0, -10.0]
    extra = {"uint16": 300, "int16": -300, "uint32": 70000, "int32": -70000,
             "uint64": 5_000_000_000, "int64": -5_000_000_000, "float32": 300, "float64": 5_000_000_000}
    for dtype in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"]:
        data = lab.copy()
        if dtype in extra:
            data[3:5, 12:14, 8:10] = extra[dtype]
        img = nib.Nifti1Image(data.astype(dtype), base, dtype=dtype)
        img.set_sform(base, code=2)
        img.set_qform(base, code=2)
        img.header.set_xyzt_units("mm")
        img.header.set_slope_inter(1.0, 0.0)
        save(img, f"dtype_{dtype}.nii.gz" if dtype != "uint8" else "dtype_uint8.nii")

    # Big-endian int16 single file.
    hdr = nib.Nifti1Header(endianness=">")
    hdr.set_data_dtype(">i2")
    img = nib.Nifti1Image(lab.astype(">i2"), base, header=hdr)
    img.set_sform(base, code=1)
    save(img, "bigendian_int16.nii")

    # .hdr/.img pairs, plain and gzipped.
    pair = nib.Nifti1Pair(lab.astype(np.int16), base)
    pair.set_sform(base, code=1)
    save(pair, "pair_int16.hdr")
    pair = nib.Nifti1Pair(lab.astype(np.uint8), base)
    pair.set_sform(base, code=1)
    pair.header.extensions.append(label_table({1: "ellipsoid", 2: "sphere", 7: "slab"}))
    save(pair, "pair_uint8.img.gz")

    # NIfTI-2 label map.
    img = nib.Nifti2Image(lab.astype(np.int32), base, dtype=np.int32)
    img.set_sform(base, code=1)
    img.set_qform(base, code=1)
    save(img, "nifti2_int32.nii.gz")

    # Units: the same grid in metres and in microns.
    for unit, scale in [("meter", 0.001), ("micron", 1000.0)]:
        a = base.copy()
        a[:3, :] *= scale
        img = nib.Nifti1Image(lab.astype(np.uint8), a)
        img.set_sform(a, code=1)
        img.set_qform(a, code=1)
        img.header.set_xyzt_units(unit)
        save(img, f"units_{unit}.nii.gz")

    # qform only (rotated, qfac -1); and neither form (pixdim only).
    q = np.eye(4)
    q[:3, :3] = rot(1, 20) @ np.diag([1.1, 1.3, -1.7])
    q[:3, 3] = [5.0, -6.0, 7.0]
    img = nib.Nifti1Image(lab.astype(np.uint8), None)
    img.set_qform(q, code=1)
    img.set_sform(None, code=0)
    img.header.set_xyzt_units("mm")
    save(img, "qform_only.nii.gz")
    img = nib.Nifti1Image(lab.astype(np.uint8), None)
    img.header.set_zooms((1.5, 1.25, 3.0))
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)
    save(img, "no_xform.nii.gz")

    # A label map whose header asks for scaling (liverkit reads labels raw and
    # warns). nibabel manages scl_* itself, so the fields are patched after saving.
    img = nib.Nifti1Image(lab.astype(np.uint8), base)
    img.set_sform(base, code=1)
    path = save(img, "scaled_labels.nii.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    write_gzip_deterministic(path, patch(raw, "<ff", 112, 2.0, 1.0))

    # sform spacing 5 % larger than pixdim: |det| and pixdim disagree (warning).
    img = nib.Nifti1Image(lab.astype(np.uint8), base)
    a = base.copy()
    a[0, 0] *= 1.05
    img.set_sform(a, code=1)
    img.header.set_zooms((0.8, 0.8, 2.0))
    save(img, "det_mismatch.nii.gz")

    # An intensity image with scaling: HU = stored * 0.5 - 1024.
    vals = (np.arange(np.prod(lab.shape)).reshape(lab.shape) % 4000).astype(np.int16)
    img = nib.Nifti1Image(vals, base)
    img.set_sform(base, code=1)
    img.header.set_slope_inter(0.5, -1024.0)
    save(img, "intensity_scaled.nii.gz")

    # Two masks on grids one voxel apart (a mask-set grid mismatch).
    for name, shift in [("grid_a.nii.gz", 0.0), ("grid_b.nii.gz", 0.8)]:
        a = base.copy()
        a[0, 3] += shift
        img = nib.Nifti1Image((lab == 1).astype(np.uint8), a)
        img.set_sform(a, code=1)
        save(img, name)


def patch(raw, fmt, offset, *values):
    b = bytearray(raw)
    struct.pack_into(fmt, b, offset, *values)
    return bytes(b)


def bad():
    os.makedirs(BAD, exist_ok=True)
    lab = small_labels((6, 5, 4)).astype(np.uint8)
    a = np.diag([1.0, 1.0, 2.0, 1.0])
    img = nib.Nifti1Image(lab, a)
    img.set_sform(a, code=1)
    img.set_qform(a, code=1)
    img.header.set_xyzt_units("mm")
    img.header["vox_offset"] = 352
    good = img.header.binaryblock + b"\0\0\0\0" + lab.tobytes(order="F")
    assert len(good) == 352 + lab.size

    def out(name, raw):
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(raw)

    out("empty.nii", b"")
    out("not_nifti.nii", b"This is a text file, not an image.\n" * 20)
    out("short_header.nii", good[:200])
    out("truncated_data.nii", good[:-30])                      # dims announce more than the file holds
    # gzip stream cut at 60 %: the header is intact, the voxel data is not.
    noise = np.random.default_rng(3).integers(0, 255, size=(40, 40, 40), dtype=np.uint8)
    big = nib.Nifti1Image(noise, a)
    big.header["vox_offset"] = 352
    gz = gzip.compress(big.header.binaryblock + b"\0\0\0\0" + noise.tobytes(order="F"), mtime=0)
    out("truncated.nii.gz", gz[: len(gz) * 6 // 10])
    bigger = patch(good, "<h", 44, 9)                          # dim[2] = 9 instead of 5
    write_gzip_deterministic(os.path.join(BAD, "dims_exceed_data.nii.gz"), bigger)
    out("zero_pixdim.nii", patch(good, "<f", 80, 0.0))        # pixdim[1]
    out("negative_pixdim.nii", patch(good, "<f", 84, -1.0))   # pixdim[2]
    out("nan_pixdim.nii", patch(good, "<f", 88, float("nan")))  # pixdim[3]
    no_sform = patch(good, "<h", 254, 0)
    out("bad_qfac.nii", patch(no_sform, "<f", 76, 0.5))       # pixdim[0] = qfac
    out("bad_quaternion.nii", patch(no_sform, "<fff", 256, 0.9, 0.9, 0.9))
    out("singular_sform.nii", patch(good, "<4f", 280, 0.0, 0.0, 0.0, 0.0))
    out("bad_dim0.nii", patch(good, "<h", 40, 9))
    out("zero_dim.nii", patch(good, "<h", 44, 0))
    out("huge_dims.nii", patch(good, "<hhh", 42, 32767, 32767, 32767))  # 35 TB announced
    out("complex_datatype.nii", patch(patch(good, "<h", 70, 32), "<h", 72, 64))
    out("unknown_datatype.nii", patch(good, "<h", 70, 3))
    out("analyze_magic.nii", patch(good, "4s", 344, b"\0\0\0\0"))
    out("bad_vox_offset.nii", patch(good, "<f", 108, 100.0))
    out("bad_units.nii", patch(good, "B", 123, 5))
    out("missing_img.hdr", patch(img.header.binaryblock, "4s", 344, b"ni1\0"))

    # NIfTI-2 header whose dimensions overflow 64 bits when multiplied.
    n2 = nib.Nifti2Image(lab.astype(np.uint8), a)
    n2.set_sform(a, code=1)
    n2.header["vox_offset"] = 544
    h2 = bytearray(n2.header.binaryblock + b"\0\0\0\0")
    struct.pack_into("<qqq", h2, 24, 2**40, 2**40, 2**40)
    out("overflow_dims.nii", bytes(h2) + lab.tobytes(order="F"))

    # Float label map holding a value that is not a whole number.
    f = lab.astype(np.float32)
    f[2, 2, 2] = 2.5
    fi = nib.Nifti1Image(f, a)
    fi.set_sform(a, code=1)
    fi.header["vox_offset"] = 352
    write_gzip_deterministic(os.path.join(BAD, "float_nonintegral.nii.gz"),
                             fi.header.binaryblock + b"\0\0\0\0" + f.tobytes(order="F"))

    # A 4-D image (two volumes) given as a label map.
    four = nib.Nifti1Image(np.stack([lab, lab], axis=-1), a)
    four.set_sform(a, code=1)
    four.header["vox_offset"] = 352
    write_gzip_deterministic(os.path.join(BAD, "four_d.nii.gz"),
                             four.header.binaryblock + b"\0\0\0\0" + np.stack([lab, lab], -1).tobytes(order="F"))


if __name__ == "__main__":
    np.random.seed(0)
    generated()
    bad()
    print("wrote", GEN, "and", BAD, file=sys.stderr)
