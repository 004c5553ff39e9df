"""Errors by type: file errors are OSErrors, header, grid and parameter
errors ValueErrors, all LiverkitErrors carrying path, field, expected and
found; they survive pickling (Dask moves them between processes)."""

from __future__ import annotations

import errno
import pickle

import numpy as np
import pytest

import liverkit
from liverkit import errors

PRE = "testdata/sample_case/pre_pve.nii.gz"


def test_missing_file_is_a_file_error_and_an_oserror():
    with pytest.raises(liverkit.FileError) as e:
        liverkit.volumes("testdata/no_such_file.nii.gz")
    assert isinstance(e.value, OSError) and isinstance(e.value, liverkit.LiverkitError)
    assert e.value.errno == errno.ENOENT
    assert e.value.path == "testdata/no_such_file.nii.gz"
    assert e.value.filename == "testdata/no_such_file.nii.gz"
    assert "no_such_file" in str(e.value)
    with pytest.raises(OSError):
        liverkit.load("testdata/no_such_file.nii.gz")


def test_bad_header_is_a_header_error_and_a_valueerror():
    with pytest.raises(liverkit.HeaderError) as e:
        liverkit.volumes("testdata/bad/negative_pixdim.nii")
    assert isinstance(e.value, ValueError) and not isinstance(e.value, OSError)
    assert e.value.path == "testdata/bad/negative_pixdim.nii"
    assert e.value.field is not None and "pixdim" in e.value.field
    assert e.value.expected and e.value.found


def test_truncated_file_is_a_file_error():
    with pytest.raises(liverkit.TruncatedError) as e:
        liverkit.volumes("testdata/bad/truncated_data.nii")
    assert isinstance(e.value, OSError)


def test_non_integral_float_labels_are_a_data_error():
    with pytest.raises(liverkit.DataError) as e:
        liverkit.load("testdata/bad/float_nonintegral.nii.gz", kind="labels")
    assert isinstance(e.value, ValueError)


def test_grid_mismatch_is_a_valueerror():
    v = liverkit.load(PRE)
    wrong = np.zeros((10, 10, 10), dtype=np.uint8)
    with pytest.raises(liverkit.GridMismatchError) as e:
        liverkit.remnant(v, tumor=wrong, resection="right-hepatectomy")
    assert isinstance(e.value, ValueError)
    assert "not on the same voxel grid" in str(e.value)


def test_parameters_are_parameter_errors():
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.volumes(PRE, threads=0)
    assert e.value.field == "threads" and e.value.found == "0"
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.remnant(PRE, resection="right-hepatectomy", height_cm=175)
    assert e.value.field == "weight_kg"
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.remnant(PRE, resection="no-such-resection")
    assert e.value.field is not None
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.remnant(PRE, liver="no_such_label")
    assert e.value.field == "liver" and "labels present" in (e.value.expected or "")
    with pytest.raises(liverkit.ParameterError):
        liverkit.volumes(np.zeros((4, 4, 4), dtype=np.float32), (1, 1, 1))
    with pytest.raises(liverkit.ParameterError):
        liverkit.volumes(np.zeros((4, 4), dtype=np.uint8), (1, 1, 1))
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.simulate(PRE, applicator="mwa", power_w=-5, time_s=60, tip_mm=(70, -30, -45), direction=(0, 0, -1))
    assert e.value.field == "power_w"
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.simulate(PRE, applicator="mwa", power_w=60, time_s=60, tip_mm=(500, 500, 500), direction=(0, 0, -1))
    assert e.value.field == "tip"


def test_wrong_python_types_are_typeerrors():
    with pytest.raises(TypeError):
        liverkit.volumes(3.5)  # type: ignore[arg-type]


def test_errors_pickle_with_their_attributes():
    try:
        liverkit.volumes("testdata/bad/negative_pixdim.nii")
    except liverkit.HeaderError as e:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is errors.HeaderError
        assert (back.path, back.field, back.expected, back.found) == (e.path, e.field, e.expected, e.found)
        assert str(back) == str(e)
    else:
        pytest.fail("no error")


def test_messages_name_the_keyword_not_the_flag():
    # The library names its parameters once; Python shows them as keywords,
    # the command line as flags (tests/cli.rs checks that side).
    zone = "testdata/sample_case/ablation_zone.nii.gz"
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.margin(f"{PRE}:liver_tumor", zone, exclude_capsule=True)
    assert e.value.field == "exclude_capsule"
    assert "liver=" in (e.value.expected or ""), e.value.expected
    assert "--" not in str(e.value) and "`" not in str(e.value)


def test_numeric_options_come_from_one_list():
    """Each signature default is the library's, and every out-of-range value
    is refused naming the keyword with the range the list states."""
    import inspect

    q = liverkit.QUANTITIES
    assert set(q) >= {"margin_mm", "height_cm", "weight_kg", "seg_threshold", "max_memory_gib"}
    for fn in (liverkit.target, liverkit.margin, liverkit.simulate):
        assert inspect.signature(fn).parameters["margin_mm"].default == q["margin_mm"]["default"] == 10.0
    for fn in (liverkit.load, liverkit.volumes, liverkit.remnant, liverkit.info):
        params = inspect.signature(fn).parameters
        assert params["seg_threshold"].default == q["seg_threshold"]["default"] == 0.5
        assert params["max_memory_gib"].default == q["max_memory_gib"]["default"] == 16.0
    h = q["height_cm"]
    for bad in (h["min"] - 1, h["max"] + 1):
        with pytest.raises(liverkit.ParameterError) as e:
            liverkit.remnant(PRE, resection="right-hepatectomy", height_cm=bad, weight_kg=75)
        assert e.value.field == "height_cm"
        assert f"{h['min']:g}" in e.value.expected and f"{h['max']:g}" in e.value.expected
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.target(PRE, margin_mm=-1)
    assert e.value.field == "margin_mm" and "mm" in e.value.expected
