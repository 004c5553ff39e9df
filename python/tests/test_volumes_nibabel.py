"""Volumes of real label maps against nibabel + numpy, computed
independently: voxel counts from np.unique, the voxel volume from the
affine's determinant, centroids as the affine applied to the mean index.
The files are the copies in testdata/ of ../shared/data (TotalSegmentator's
example segmentations, CT and MR; provenance in testdata/README.md)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import liverkit

from conftest import TESTDATA

TS = TESTDATA / "totalsegmentator"
LABEL_MAPS = sorted(p for p in TS.glob("example_seg*.nii.gz"))
MASKS = sorted((TS / "example_seg_fast").glob("*.nii.gz"))


def nibabel_volumes(path: Path) -> dict[int, tuple[int, float, np.ndarray]]:
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    affine = img.affine
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    out = {}
    values, counts = np.unique(data, return_counts=True)
    for v, n in zip(values, counts):
        if v == 0:
            continue
        ijk = np.argwhere(data == v).mean(axis=0)
        out[int(v)] = (int(n), n * voxel_ml, affine[:3, :3] @ ijk + affine[:3, 3])
    return out


def test_there_are_real_files():
    assert len(LABEL_MAPS) >= 5 and len(MASKS) >= 5


@pytest.mark.parametrize("path", LABEL_MAPS, ids=lambda p: p.name)
def test_label_map_volumes_match_nibabel(path):
    expected = nibabel_volumes(path)
    for source in (str(path), liverkit.load(path, kind="labels")):
        got = {e.label: e for e in liverkit.volumes(source).labels}
        assert set(got) == set(expected)
        for label, (voxels, ml, centroid) in expected.items():
            assert got[label].voxels == voxels
            assert got[label].volume_ml == pytest.approx(ml, rel=1e-9)
            assert np.allclose(got[label].centroid_mm, centroid, atol=1e-6)


@pytest.mark.parametrize("path", MASKS, ids=lambda p: p.name)
def test_mask_volumes_match_nibabel(path):
    (voxels, ml, _), = nibabel_volumes(path).values()
    r = liverkit.volumes(path, masks=True)
    assert r.labels[0].voxels == voxels
    assert r.labels[0].volume_ml == pytest.approx(ml, rel=1e-9)


def test_loaded_array_equals_nibabel_voxels():
    path = TS / "example_seg.nii.gz"
    v = liverkit.load(path)
    img = nib.load(str(path))
    assert np.array_equal(v.array, np.asanyarray(img.dataobj))
    assert np.allclose(v.affine, img.affine, atol=1e-5)
    assert v.orientation == "".join(nib.aff2axcodes(img.affine))


def test_ct_loads_as_an_image_in_hounsfield_units():
    path = TS / "example_ct_sm.nii.gz"
    v = liverkit.load(path)
    assert v.kind == "image"
    assert np.allclose(v.array, nib.load(str(path)).get_fdata(dtype=np.float32))
