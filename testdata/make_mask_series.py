"""Generate testdata/mask_series/: structures of a real CT stored the way many
archives and tools keep segmentations — each structure its own 8-bit DICOM
image series, one folder per structure, files named image_0 … image_N.

The CT is TotalSegmentator's example DICOM series
(totalsegmentator/example_ct_dicom, 512 x 512 x 20); the structures are
labels of its segmentation example_seg_dicom.nii.gz (liver = 5, spleen = 1),
carried onto the CT's pixel grid through the two files' own geometry
(DICOM ImagePositionPatient / ImageOrientationPatient / PixelSpacing, and the
NIfTI affine), independently of liverkit.

What makes them awkward, as real archives are:

* liver/: values 0/255, modality CT, no FrameOfReferenceUID, its own
  SeriesInstanceUID; image_0 is the top slice, so sorting file names as
  strings (image_0, image_1, image_10, …) gives the wrong order;
* spleen/: values 0/1, modality OT, RescaleIntercept -1024 (a rescaled 0 is
  -1024), no FrameOfReferenceUID and no SeriesInstanceUID at all.

    python3 testdata/make_mask_series.py   # writes testdata/mask_series/
"""

import glob
import os

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

HERE = os.path.dirname(os.path.abspath(__file__))
CT = os.path.join(HERE, "totalsegmentator", "example_ct_dicom")
SEG = os.path.join(HERE, "totalsegmentator", "example_seg_dicom.nii.gz")
OUT = os.path.join(HERE, "mask_series")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"

STRUCTURES = [
    # folder, label, inside value, modality, rescale intercept, series UID?
    ("liver", 5, 255, "CT", None, True),
    ("spleen", 1, 1, "OT", -1024.0, False),
]


def ct_slices():
    """The CT's slices, top first (as such archives number them)."""
    slices = [pydicom.dcmread(f, stop_before_pixels=True) for f in glob.glob(os.path.join(CT, "*"))]
    return sorted(slices, key=lambda d: -float(d.ImagePositionPatient[2]))


def mask_on_slice(labels, inverse, ds, label):
    """The label's voxels on one CT slice: each pixel's centre in LPS, to RAS,
    to the NIfTI voxel that holds it."""
    rows, cols = int(ds.Rows), int(ds.Columns)
    iop = np.array(ds.ImageOrientationPatient, float)
    ipp = np.array(ds.ImagePositionPatient, float)
    dr, dc = (float(v) for v in ds.PixelSpacing)  # row spacing, column spacing
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    lps = ipp + c[..., None] * dc * iop[:3] + r[..., None] * dr * iop[3:]
    ras = lps * np.array([-1.0, -1.0, 1.0])
    ijk = np.rint(ras @ inverse[:3, :3].T + inverse[:3, 3]).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(labels.shape)), axis=-1)
    out = np.zeros((rows, cols), bool)
    i, j, k = (ijk[..., a][inside] for a in range(3))
    out[inside] = labels[i, j, k] == label
    return out


def main():
    img = nib.load(SEG)
    labels = np.asarray(img.dataobj)
    inverse = np.linalg.inv(img.affine)
    slices = ct_slices()
    for folder, label, value, modality, intercept, with_uid in STRUCTURES:
        d = os.path.join(OUT, folder)
        os.makedirs(d, exist_ok=True)
        for f in glob.glob(os.path.join(d, "image_*")):
            os.remove(f)
        series_uid = generate_uid() if with_uid else None
        for n, ct in enumerate(slices):
            mask = mask_on_slice(labels, inverse, ct, label)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = CT_IMAGE if modality == "CT" else SECONDARY_CAPTURE
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality = modality
            ds.PatientName = "MASK^ARCHIVE"
            ds.PatientID = "mask-series"
            if series_uid:
                ds.SeriesInstanceUID = series_uid
            ds.InstanceNumber = n + 1
            ds.ImagePositionPatient = list(ct.ImagePositionPatient)
            ds.ImageOrientationPatient = list(ct.ImageOrientationPatient)
            ds.PixelSpacing = list(ct.PixelSpacing)
            ds.SliceThickness = ct.SliceThickness
            ds.Rows, ds.Columns = int(ct.Rows), int(ct.Columns)
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 8
            ds.HighBit = 7
            ds.PixelRepresentation = 0
            if intercept is not None:
                ds.RescaleIntercept = intercept
                ds.RescaleSlope = 1
            ds.PixelData = (mask.astype(np.uint8) * value).tobytes()
            ds.save_as(os.path.join(d, f"image_{n}"), enforce_file_format=True)
        print(folder, "voxels", int((labels == label).sum()))


if __name__ == "__main__":
    main()
