"""The distance transform from Python against scipy, exactly (both are
exact Euclidean transforms; float32 output)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import liverkit

PRE = "testdata/sample_case/pre_pve.nii.gz"


def scipy_signed(mask: np.ndarray, spacing) -> np.ndarray:
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    inside = ndimage.distance_transform_edt(mask, sampling=spacing)
    return np.where(mask, -inside, outside)


@pytest.fixture(scope="module")
def liver():
    v = liverkit.load(PRE)
    return (v.array >= 1) & (v.array <= 8), v.spacing_mm


def test_unsigned_equals_scipy_on_a_real_liver(liver):
    mask, spacing = liver
    ours = liverkit.distance_transform(mask, spacing)
    ref = ndimage.distance_transform_edt(mask, sampling=spacing)
    assert ours.dtype == np.float32 and ours.shape == mask.shape
    assert np.max(np.abs(ours - ref)) <= 1e-4 * max(1.0, ref.max())


def test_signed_equals_scipy(liver):
    mask, spacing = liver
    ours = liverkit.distance_transform(mask, spacing, signed=True)
    ref = scipy_signed(mask, spacing)
    assert np.max(np.abs(ours - ref)) <= 1e-4 * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_anisotropic_masks_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((23, 31, 17)) < 0.8
    spacing = (0.7, 1.3, 3.1)
    ours = liverkit.distance_transform(mask, spacing)
    ref = ndimage.distance_transform_edt(mask, sampling=spacing)
    assert np.allclose(ours, ref, rtol=1e-6, atol=1e-5)


def test_layouts_and_dtypes_give_the_same_transform(liver):
    mask, spacing = liver
    ref = liverkit.distance_transform(mask, spacing)
    fortran = np.asfortranarray(mask)
    c = np.ascontiguousarray(mask)
    strided = np.zeros((mask.shape[0], mask.shape[1], 2 * mask.shape[2]), dtype=bool)[:, :, ::2]
    strided[...] = mask
    for arr in (fortran, c, strided, mask.astype(np.uint8), mask.astype(np.int64), mask.astype(np.float32)):
        assert np.array_equal(liverkit.distance_transform(arr, spacing), ref)


def test_threads_give_identical_results(liver):
    mask, spacing = liver
    one = liverkit.distance_transform(mask, spacing, threads=1)
    two = liverkit.distance_transform(mask, spacing, threads=2)
    assert np.array_equal(one, two)


def test_volume_input_uses_its_grid():
    v = liverkit.load(PRE)
    d = liverkit.distance_transform(v)
    ref = ndimage.distance_transform_edt(v.array != 0, sampling=v.spacing_mm)
    assert np.allclose(d, ref, atol=1e-4)
