"""Remnant and margin assessments over a folder of cases, on a Dask cluster.

    python cohort_dask.py CASES OUT.csv [--workers 2] [--scheduler ADDRESS]
        [--resection right-hepatectomy] [--margin-mm 10] [--threads-per-case 1]

Each case is a sub-folder of CASES holding

* ``labels.nii.gz`` (or any label map liverkit reads): Couinaud segments
  named ``liver_segment_1..8`` and the tumours named ``liver_tumor``, as
  TotalSegmentator writes them;
* optionally ``zone.nii.gz``, the ablation zone, for the margin assessment;
* optionally ``patient.json``, ``{"height_cm": 175, "weight_kg": 75}``, for
  the standardised remnant (sFLR).

One CSV row per case. A case that fails (unreadable file, wrong grid, no
liver…) is recorded in its row with the error's class and message; the
other cases go on. Without ``--scheduler`` a ``LocalCluster`` of
``--workers`` processes runs here; with it, the same code runs on any Dask
cluster (the workers need liverkit installed and the case folder mounted at
the same path). The CSV is written to a temporary file and renamed, so a
crash never leaves half a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from typing import Any

COLUMNS = [
    "case",
    "status",
    "error_type",
    "error",
    "total_liver_ml",
    "tumor_ml",
    "functional_liver_ml",
    "remnant_ml",
    "flr_pct",
    "sflr_pct",
    "threshold_pct",
    "remnant_sufficient",
    "tumors",
    "min_margin_mm",
    "coverage_ge10_pct",
    "residual_tumor_ml",
    "margin_sufficient",
]

LABEL_FILES = ("labels.nii.gz", "labels.nii", "labels.nrrd", "labels.seg.nrrd")
ZONE_FILES = ("zone.nii.gz", "zone.nii", "zone.nrrd")


def _first(case_dir: str, names: tuple[str, ...]) -> str | None:
    for n in names:
        p = os.path.join(case_dir, n)
        if os.path.exists(p):
            return p
    return None


def assess_case(case_dir: str, resection: str = "right-hepatectomy", margin_mm: float = 10.0, threads: int = 1) -> dict[str, Any]:
    """One row: the remnant after ``resection`` and, with a zone, the
    ablation margins. Never raises: a failure fills ``status``,
    ``error_type`` and ``error``."""
    import liverkit

    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row["case"] = os.path.basename(os.path.normpath(case_dir))
    row["status"] = "ok"
    try:
        labels = _first(case_dir, LABEL_FILES)
        if labels is None:
            raise FileNotFoundError(f"{case_dir}: no label map ({', '.join(LABEL_FILES)})")
        height_cm = weight_kg = None
        pj = os.path.join(case_dir, "patient.json")
        if os.path.exists(pj):
            with open(pj) as f:
                p = json.load(f)
            height_cm, weight_kg = float(p["height_cm"]), float(p["weight_kg"])
        r = liverkit.remnant(
            labels, resection=resection, height_cm=height_cm, weight_kg=weight_kg, threads=threads
        )
        row.update(
            total_liver_ml=r.total_liver_ml,
            tumor_ml=r.tumor_ml,
            functional_liver_ml=r.functional_liver_ml,
            remnant_ml=r.remnant_ml,
            flr_pct=r.flr_pct,
            sflr_pct=r.sflr_pct if r.sflr_pct is not None else "",
            threshold_pct=r.threshold_pct,
            remnant_sufficient=r.sufficient,
        )
        zone = _first(case_dir, ZONE_FILES)
        if zone is not None:
            m = liverkit.margin(f"{labels}:liver_tumor", zone, margin_mm=margin_mm, threads=threads)
            row.update(
                tumors=len(m.tumors),
                min_margin_mm=min(t.min_margin_mm for t in m.tumors),
                coverage_ge10_pct=min(t.coverage_ge10_pct for t in m.tumors),
                residual_tumor_ml=sum(t.residual_tumor_ml for t in m.tumors),
                margin_sufficient=m.sufficient,
            )
    except Exception as e:  # noqa: BLE001 - every failure goes into the row
        row.update(status="error", error_type=type(e).__name__, error=str(e).replace("\n", " "))
    return row


def cases_in(folder: str) -> list[str]:
    """The case folders, sorted by name."""
    return sorted(
        os.path.join(folder, d) for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))
    )


def write_csv(rows: list[dict[str, Any]], path: str) -> None:
    """Writes the table atomically (temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cohort-", suffix=".csv", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in r.items()})
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run(client: Any, folder: str, out: str, resection: str, margin_mm: float, threads: int) -> list[dict[str, Any]]:
    """Assesses every case of ``folder`` on the cluster behind ``client``
    and writes ``out``."""
    cases = cases_in(folder)
    futures = client.map(
        assess_case, cases, resection=resection, margin_mm=margin_mm, threads=threads, pure=False
    )
    rows: list[dict[str, Any]] = client.gather(futures)
    write_csv(rows, out)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", help="folder with one sub-folder per case")
    ap.add_argument("out", help="CSV to write")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (without --scheduler)")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    ap.add_argument("--resection", default="right-hepatectomy")
    ap.add_argument("--margin-mm", type=float, default=10.0)
    ap.add_argument("--threads-per-case", type=int, default=1, help="liverkit threads inside each task")
    a = ap.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    if a.scheduler:
        with Client(a.scheduler) as client:  # type: ignore[no-untyped-call]
            rows = run(client, a.cases, a.out, a.resection, a.margin_mm, a.threads_per_case)
    else:
        with LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
            rows = run(client, a.cases, a.out, a.resection, a.margin_mm, a.threads_per_case)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"{len(rows)} cases, {failed} failed: {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
