"""Write hostile files into testdata/hostile/: small files built to make a
reader panic, hang or allocate gigabytes. Each is derived from a real file in
testdata/ with one field changed; tests/hostile.rs runs every one through
liverkit and asserts a clear error (exit 2, file and field named), no panic,
bounded time and bounded memory.

    python3 testdata/hostile.py    # rewrite testdata/hostile/ (needs pydicom)
"""

import copy
import gzip
import os
import struct

import pydicom
from pydicom.encaps import generate_fragments
from pydicom.uid import ExplicitVRLittleEndian

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hostile")


def read(rel):
    return pydicom.dcmread(os.path.join(HERE, rel))


def save(ds, name):
    ds.save_as(os.path.join(OUT, name), enforce_file_format=True)


def fragments(ds):
    """The fragments after the basic offset table."""
    return list(generate_fragments(ds.PixelData))[1:]


def encapsulate(frags):
    """Basic offset table (empty) and the given fragments."""
    out = bytearray(struct.pack("<HHI", 0xFFFE, 0xE000, 0))
    for f in frags:
        if len(f) % 2:
            f = f + b"\0"
        out += struct.pack("<HHI", 0xFFFE, 0xE000, len(f)) + f
    out += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return bytes(out)


def dicom():
    # 7: RLE header whose segment offsets point past the fragment and run
    # backwards.
    ds = read("pydicom/MR_small_RLE.dcm")
    frag = bytearray(fragments(ds)[0])
    struct.pack_into("<II", frag, 4, 64, 0x7FFFFFF0)
    ds.PixelData = encapsulate([bytes(frag)])
    save(ds, "rle_bad_offsets.dcm")

    ds = read("pydicom/MR_small_RLE.dcm")
    frag = bytearray(fragments(ds)[0])
    struct.pack_into("<III", frag, 0, 2, 200, 100)  # second segment before the first
    ds.PixelData = encapsulate([bytes(frag)])
    save(ds, "rle_backwards_offsets.dcm")

    ds = read("pydicom-data/liver_rle.dcm")
    frags = fragments(ds)
    frag = bytearray(frags[0])
    struct.pack_into("<II", frag, 0, 15, 64)  # 15 segments announced for a 1-bit frame
    for k in range(2, 16):
        struct.pack_into("<I", frag, 4 * k, 0xFFFFFF00 - k)
    ds.PixelData = encapsulate([bytes(frag)] + frags[1:])
    save(ds, "seg_rle_bad_offsets.dcm")

    # 8: two billion frames announced in a small file (series and SEG).
    ds = read("pydicom-data/eCT_Supplemental.dcm")
    ds.NumberOfFrames = 2000000000
    ds.PixelData = ds.PixelData[: 512 * 512 * 2]
    del ds.PerFrameFunctionalGroupsSequence[1:]
    save(ds, "frames_2e9.dcm")
    ds = read("dcmqi/liver.dcm")
    ds.NumberOfFrames = 2000000000
    save(ds, "seg_frames_2e9.dcm")

    # 8: an element announcing 4 GB in a 7 KB file.
    raw = bytearray(open(os.path.join(HERE, "pydicom/MR_small_jp2klossless.dcm"), "rb").read())
    at = raw.find(struct.pack("<HH", 0x0008, 0x0060))  # Modality, explicit VR "CS" + u16 length
    assert at > 0 and raw[at + 4 : at + 6] == b"CS"
    # Turn it into an OB element (u16 reserved, u32 length) of 0xFFFFFFF0 bytes.
    raw[at + 4 : at + 8] = b"OB\0\0"
    raw[at + 8 : at + 8] = struct.pack("<I", 0xFFFFFFF0)
    with open(os.path.join(OUT, "element_4gb.dcm"), "wb") as f:
        f.write(raw)

    # 8: the same inside a sequence item of an implicit VR file, where only
    # the dictionary says the enclosing element is a sequence.
    raw = bytearray(open(os.path.join(HERE, "highdicom/seg_image_ct_binary.dcm"), "rb").read())
    at = raw.find(struct.pack("<HH", 0x0062, 0x0005))  # SegmentLabel, in SegmentSequence
    assert at > 0
    struct.pack_into("<I", raw, at + 4, 0xFFFFFFF0)
    with open(os.path.join(OUT, "nested_element_4gb.dcm"), "wb") as f:
        f.write(raw)

    # 9: a JPEG 2000 frame whose codestream disagrees with Rows/Columns.
    ds = read("pydicom/MR_small_jp2klossless.dcm")
    ds.Rows = 4096
    ds.Columns = 4096
    save(ds, "j2k_geometry_mismatch.dcm")
    ds = read("pydicom/MR_small_jp2klossless.dcm")
    frag = bytearray(fragments(ds)[0])
    siz = frag.find(b"\xff\x51")
    assert siz >= 0
    # Xsiz, Ysiz = 2^31 - 1: the codestream announces an enormous image.
    struct.pack_into(">II", frag, siz + 6, 0x7FFFFFFF, 0x7FFFFFFF)
    ds.PixelData = encapsulate([bytes(frag)])
    save(ds, "j2k_huge_siz.dcm")

    # 10: BitsAllocated 32 over 16-bit pixel data.
    ds = read("pydicom/CT_small.dcm")
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    save(ds, "bits_allocated_mismatch.dcm")
    # 10: one slice with SliceThickness 0 (the slice step of a single slice).
    ds = read("pydicom/CT_small.dcm")
    ds.SliceThickness = 0
    save(ds, "slice_thickness_zero.dcm")


def nrrd():
    head = (
        "NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\n"
        "space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\n"
    )
    # 8: the data file is a device that never ends.
    with open(os.path.join(OUT, "data_file_device.nhdr"), "w") as f:
        f.write(head + "sizes: 64 64 64\nencoding: raw\ndata file: /dev/zero\n\n")
    # 8: sizes announce 8 GB; the file holds 16 bytes (raw and gzip).
    with open(os.path.join(OUT, "sizes_exceed_raw.nrrd"), "wb") as f:
        f.write((head + "sizes: 2000 2000 2000\nencoding: raw\n\n").encode() + bytes(16))
    with open(os.path.join(OUT, "sizes_exceed_gzip.nrrd"), "wb") as f:
        f.write((head + "sizes: 2000 2000 2000\nencoding: gzip\n\n").encode()
                + gzip.compress(bytes(4096), mtime=0))
    # sizes whose product overflows 64 bits.
    with open(os.path.join(OUT, "sizes_overflow.nrrd"), "wb") as f:
        f.write((head + "sizes: 4294967296 4294967296 4294967296\nencoding: raw\n\n").encode() + bytes(16))


def nifti():
    # 10: a 1 KB gzip file announcing 10^12 voxels: read whole (as a role or
    # label map) it must be refused, not abort on a failed allocation.
    h = bytearray(348)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, 10000, 10000, 10000, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, 2, 8)  # uint8
    struct.pack_into("<8f", h, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", h, 108, 352)
    h[123] = 2  # mm
    h[344:348] = b"n+1\0"
    with open(os.path.join(OUT, "huge_dims_gzip.nii.gz"), "wb") as f:
        f.write(gzip.compress(bytes(h) + bytes(4 + 1000), mtime=0))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    dicom()
    nrrd()
    nifti()
    print("wrote", OUT)
