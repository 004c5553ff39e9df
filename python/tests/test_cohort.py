"""The Dask cohort example: 2 worker processes over 7 generated cases (one
truncated, one without a liver), each row equal to the single-process
result."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import liverkit

from conftest import ROOT, SAMPLE

EXAMPLE = ROOT / "python" / "examples" / "cohort_dask.py"


def _example():
    spec = importlib.util.spec_from_file_location("cohort_dask", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """Variants of the sample case: shifted and with grown or shrunk
    ablation zones, with and without patient data; one truncated file and
    one label map without a liver."""
    root = tmp_path_factory.mktemp("cohort")
    img = nib.load(str(SAMPLE / "pre_pve.nii.gz"))
    zone = nib.load(str(SAMPLE / "ablation_zone.nii.gz"))
    labels = np.asanyarray(img.dataobj)
    z = np.asanyarray(zone.dataobj)
    for n, shift in enumerate([0, 3, -4, 7, -2]):
        d = root / f"case_{n}"
        d.mkdir()
        nib.save(nib.Nifti1Image(np.roll(labels, shift, axis=0), img.affine, img.header), str(d / "labels.nii.gz"))
        if n != 4:
            grown = np.roll(z, shift + (n - 1), axis=0)
            nib.save(nib.Nifti1Image(grown, zone.affine, zone.header), str(d / "zone.nii.gz"))
        if n % 2 == 0:
            (d / "patient.json").write_text(json.dumps({"height_cm": 160 + 5 * n, "weight_kg": 60 + 4 * n}))
    broken = root / "case_5_truncated"
    broken.mkdir()
    data = (root / "case_0" / "labels.nii.gz").read_bytes()
    (broken / "labels.nii.gz").write_bytes(data[: len(data) // 3])
    no_liver = root / "case_6_no_liver"
    no_liver.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 10), np.uint8), np.eye(4)), str(no_liver / "labels.nii.gz"))
    # The generated label maps keep the sample's label names.
    assert liverkit.load(root / "case_1" / "labels.nii.gz").labels[9] == "liver_tumor"
    return root


def test_cohort_on_two_dask_workers_matches_single_process(cases, tmp_path):
    out = tmp_path / "cohort.csv"
    r = subprocess.run(
        [sys.executable, str(EXAMPLE), str(cases), str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    example = _example()
    assert [row["case"] for row in rows] == [Path(c).name for c in example.cases_in(str(cases))]
    assert len(rows) == 7

    for row in rows:
        expected = example.assess_case(str(cases / row["case"]))
        for k in example.COLUMNS:
            e = expected[k]
            got = row[k]
            if isinstance(e, float):
                assert float(got) == e, (row["case"], k)
            else:
                assert got == str(e), (row["case"], k)

    by_case = {row["case"]: row for row in rows}
    bad = by_case["case_5_truncated"]
    assert bad["status"] == "error" and bad["error_type"] == "TruncatedError"
    assert "labels.nii.gz" in bad["error"]
    nl = by_case["case_6_no_liver"]
    assert nl["status"] == "error" and nl["error_type"] == "ParameterError"
    ok = [row for row in rows if row["status"] == "ok"]
    assert len(ok) == 5
    assert all(row["remnant_sufficient"] in ("True", "False") for row in ok)
    assert by_case["case_4"]["min_margin_mm"] == ""  # no zone, no margin
    assert by_case["case_0"]["sflr_pct"] != "" and by_case["case_1"]["sflr_pct"] == ""
