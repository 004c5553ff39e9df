"""The DICOM SEG and .seg.nrrd files liverkit writes, read by the tools PACS
and research pipelines use (pydicom, highdicom, pynrrd), and compared voxel
for voxel with the NIfTI liverkit writes for the same command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import highdicom as hd
import nibabel as nib
import nrrd
import numpy as np
import pydicom

from conftest import ROOT, TESTDATA, _binary

SAMPLE = TESTDATA / "sample_case" / "pre_pve.nii.gz"
CT = TESTDATA / "totalsegmentator" / "example_ct_dicom"
LAS = TESTDATA / "totalsegmentator" / "example_seg_dicom.nii.gz"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(_binary()), *args], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    return r


def world_points_lps(array: np.ndarray, affine: np.ndarray) -> set[tuple[float, float, float]]:
    """The LPS centres (0.01 mm) of the non-zero voxels of an array whose
    index → LPS affine is given."""
    idx = np.argwhere(array)
    pts = idx @ affine[:3, :3].T + affine[:3, 3]
    return {tuple(p) for p in np.round(pts, 2)}


def nifti_points_lps(path: Path) -> set[tuple[float, float, float]]:
    img = nib.load(path)
    ras_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    return world_points_lps(np.asarray(img.dataobj) != 0, ras_to_lps @ img.affine)


def seg_points_lps(seg: hd.seg.Segmentation, number: int) -> set[tuple[float, float, float]]:
    vol = seg.get_volume(segment_numbers=[number], combine_segments=True)
    return world_points_lps(vol.array != 0, vol.affine)


def test_a_standalone_seg_is_the_nifti_mask(tmp_path: Path) -> None:
    run("target", str(SAMPLE), "--out", str(tmp_path / "t.dcm"))
    run("target", str(SAMPLE), "--out", str(tmp_path / "t.nii.gz"))
    ds = pydicom.dcmread(tmp_path / "t.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    seg = hd.seg.segread(tmp_path / "t.dcm")
    assert seg.SegmentationType == "BINARY"
    d = seg.get_segment_description(1)
    assert d.SegmentLabel.startswith("Ablation target")
    assert d.SegmentedPropertyTypeCodeSequence[0].CodeValue == "228793007"
    assert d.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == "SCT"
    points = seg_points_lps(seg, 1)
    assert len(points) > 10000
    assert points == nifti_points_lps(tmp_path / "t.nii.gz")


def test_a_seg_from_a_mask_series_refers_to_its_images(tmp_path: Path) -> None:
    liver = TESTDATA / "mask_series" / "liver"
    spleen = TESTDATA / "mask_series" / "spleen"
    out = tmp_path / "ms.dcm"
    run("--mask-series", "target", str(liver), "--tumor", str(spleen), "--liver", str(liver), "--out", str(out))
    seg = hd.seg.segread(out)
    images = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in liver.iterdir()}
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    assert referenced and referenced <= images
    series_uid = pydicom.dcmread(next(liver.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series_uid
    # The patient is carried over from the series.
    assert str(seg.PatientName) == "MASK^ARCHIVE"


def test_a_las_nifti_becomes_a_seg_in_the_ct_study(tmp_path: Path) -> None:
    out = tmp_path / "las.dcm"
    run("target", str(LAS), "--tumor", "1", "--liver", "5", "--margin-mm", "5", "--out", str(out), "--reference", str(CT))
    run("target", str(LAS), "--tumor", "1", "--liver", "5", "--margin-mm", "5", "--out", str(tmp_path / "las.nii.gz"))
    seg = hd.seg.segread(out)
    ct = pydicom.dcmread(next(CT.iterdir()), stop_before_pixels=True)
    assert seg.FrameOfReferenceUID == ct.FrameOfReferenceUID
    # This anonymised CT carries an empty StudyInstanceUID: the SEG then
    # takes a new one rather than an invalid empty UID.
    if ct.StudyInstanceUID:
        assert seg.StudyInstanceUID == ct.StudyInstanceUID
    else:
        assert seg.StudyInstanceUID.startswith("2.25.")
    # The CT's own in-plane axes, not the NIfTI's flipped j.
    iop = seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient
    assert [float(v) for v in iop] == [float(v) for v in ct.ImageOrientationPatient]
    assert seg_points_lps(seg, 1) == nifti_points_lps(tmp_path / "las.nii.gz")


def test_margin_segments_in_a_slicer_segmentation(tmp_path: Path) -> None:
    out = tmp_path / "m.seg.nrrd"
    tumor = f"{SAMPLE}:liver_tumor"
    zone = str(TESTDATA / "sample_case" / "ablation_zone.nii.gz")
    run("margin", "--tumor", tumor, "--zone", zone, "--margin-map", str(out))
    data, header = nrrd.read(str(out))
    names = [header[f"Segment{n}_Name"] for n in range(3)]
    assert names == ["Tumor", "Ablation target (tumor + margin)", "Margin shortfall"]
    assert "SCT^108369006^Neoplasm" in header["Segment0_Tags"]
    # Tumour and target overlap: one layer each (kinds list domain ...).
    assert data.ndim == 4 and data.shape[0] == 3
    tumor_img = nib.load(SAMPLE)
    labels = np.asarray(tumor_img.dataobj)
    assert np.array_equal(data[0] != 0, labels == 9)
    zone_mask = np.asarray(nib.load(zone).dataobj) != 0
    assert np.array_equal(data[2] != 0, (data[1] != 0) & ~zone_mask)


def groups_of(path: Path) -> dict[str, dict[str, tuple[float, str]]]:
    """Every measurement group of an SR read by highdicom: tracking
    identifier → {measurement → (value, UCUM unit)}."""
    content = hd.sr.srread(path).content
    out: dict[str, dict[str, tuple[float, str]]] = {}
    for g in [*content.get_image_measurement_groups(), *content.get_volumetric_roi_measurement_groups()]:
        out[g.tracking_identifier] = {m.name.meaning: (float(m.value), m.unit.value) for m in g.get_measurements()}
    return out


def conclusion_of(path: Path) -> str:
    ds = pydicom.dcmread(path)
    assert ds.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    last = ds.ContentSequence[-1]
    assert last.ConceptNameCodeSequence[0].CodeMeaning == "Qualitative Evaluations"
    return str(last.ContentSequence[0].TextValue)


def test_the_margin_report_holds_the_printed_numbers(tmp_path: Path, cli) -> None:
    tumor = f"{SAMPLE}:liver_tumor"
    zone = str(TESTDATA / "sample_case" / "ablation_zone.nii.gz")
    sr = tmp_path / "m_sr.dcm"
    run("margin", "--tumor", tumor, "--zone", zone, "--margin-map", str(tmp_path / "m.dcm"), "--sr", str(sr))
    printed = cli("margin", "--tumor", tumor, "--zone", zone)
    groups = groups_of(sr)
    for t in printed["tumors"]:
        g = groups[f"tumour {t['tumor']}"]
        assert g["Minimal ablation margin"] == (t["min_margin_mm"], "mm")
        assert g["Tumor surface with at least 10 mm of margin"] == (t["coverage_ge10_pct"], "%")
        assert g["Volume"] == (t["tumor_ml"], "ml")
        assert g["Residual tumor outside the ablation zone"] == (t["residual_tumor_ml"], "ml")
    assert conclusion_of(sr) == printed["verdict"]
    # The SR and the SEG of one run share the study, and the SEG is evidence.
    seg = pydicom.dcmread(tmp_path / "m.dcm", stop_before_pixels=True)
    ds = pydicom.dcmread(sr)
    assert ds.StudyInstanceUID == seg.StudyInstanceUID
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == seg.SOPInstanceUID


def test_remnant_and_pve_reports(tmp_path: Path, cli) -> None:
    sr = tmp_path / "r_sr.dcm"
    run("remnant", str(SAMPLE), "--resection", "right-hepatectomy", "--sr", str(sr))
    printed = cli("remnant", str(SAMPLE), "--resection", "right-hepatectomy")
    g = groups_of(sr)["liver remnant"]
    assert g["Volume"] == (printed["remnant_ml"], "ml")
    assert g["Future liver remnant, % of functional liver"] == (printed["flr_pct"], "%")
    assert conclusion_of(sr) == printed["verdict"]
    post = str(TESTDATA / "sample_case" / "post_pve.nii.gz")
    sr = tmp_path / "p_sr.dcm"
    run("pve", str(SAMPLE), post, "--resection", "right-hepatectomy", "--days", "28", "--sr", str(sr))
    printed = cli("pve", str(SAMPLE), post, "--resection", "right-hepatectomy", "--days", "28")
    g = groups_of(sr)["remnant growth after PVE"]
    assert g["Kinetic growth rate"] == (printed["kgr_points_per_week"], "%/wk")


def test_a_report_on_a_dicom_series_points_to_its_segment(tmp_path: Path, cli) -> None:
    liver = TESTDATA / "mask_series" / "liver"
    spleen = TESTDATA / "mask_series" / "spleen"
    seg, sr = tmp_path / "t.dcm", tmp_path / "t_sr.dcm"
    args = ["--mask-series", "target", str(liver), "--tumor", str(spleen), "--liver", str(liver)]
    run(*args, "--out", str(seg), "--sr", str(sr))
    printed = cli(*args)
    content = hd.sr.srread(sr).content
    (group,) = content.get_volumetric_roi_measurement_groups()
    ref = group.referenced_segment
    seg_ds = pydicom.dcmread(seg, stop_before_pixels=True)
    item = ref[0].ReferencedSOPSequence[0]
    assert item.ReferencedSOPInstanceUID == seg_ds.SOPInstanceUID
    assert item.ReferencedSegmentNumber == 1
    measured = {m.name.meaning: float(m.value) for m in group.get_measurements()}
    assert measured["Volume"] == printed["tumors"][0]["target_ml"]
