"""liverkit: liver volumetry and ablation-zone computation.

The functions mirror the command-line program: ``volumes``, ``remnant``,
``pve``, ``target``, ``margin`` and ``simulate`` return immutable results
whose ``to_dict()`` equals the command's ``--json`` output;
``distance_transform`` returns a numpy array. Each takes a path, a
:class:`Volume` from :func:`load`, or a 3-D numpy array indexed ``[i, j, k]``
(any integer or boolean dtype, C or Fortran order) with ``spacing_mm`` (or
an ``affine``). Arrays given for roles (``liver=``, ``tumor=``, ``zone=``…)
take the grid of the label map of the call unless given their own.

The work runs in Rust with the GIL released, on ``threads`` rayon threads
(default: one per core), so Python threads calling liverkit run in
parallel. Errors are :class:`LiverkitError` subclasses (see
:mod:`liverkit.errors`).

>>> import liverkit
>>> seg = liverkit.load("case/segmentations.nii.gz")            # doctest: +SKIP
>>> r = liverkit.remnant(seg, resection="right-hepatectomy",
...                      height_cm=175, weight_kg=75)          # doctest: +SKIP
>>> r.sflr_pct, r.sufficient                                    # doctest: +SKIP
(20.3, True)
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Literal, Mapping, Sequence, Union

import numpy as np

from . import _native
from ._native import Volume
from .errors import (
    DataError,
    FileError,
    GridMismatchError,
    HeaderError,
    LiverkitError,
    ParameterError,
    TruncatedError,
    UnsupportedError,
    WriteError,
)
from .results import (
    InfoResult,
    LabelVolume,
    MarginResult,
    MultiAblation,
    PlanCandidate,
    PlanResult,
    ProtocolsResult,
    PveResult,
    Record,
    RemnantResult,
    SegmentVolume,
    SimulateResult,
    TargetResult,
    TargetZone,
    Together,
    ZoneJudgement,
    TumorMargin,
    TumorPlan,
    VolumesResult,
)

__all__ = [
    "Volume",
    "load",
    "from_array",
    "volumes",
    "remnant",
    "pve",
    "distance_transform",
    "target",
    "margin",
    "simulate",
    "info",
    "protocols",
    "plan",
    "QUANTITIES",
    "LiverkitError",
    "FileError",
    "WriteError",
    "TruncatedError",
    "HeaderError",
    "DataError",
    "UnsupportedError",
    "GridMismatchError",
    "ParameterError",
    "Record",
    "LabelVolume",
    "VolumesResult",
    "SegmentVolume",
    "RemnantResult",
    "PveResult",
    "TargetZone",
    "TargetResult",
    "TumorMargin",
    "MarginResult",
    "SimulateResult",
    "InfoResult",
    "ProtocolsResult",
    "PlanCandidate",
    "MultiAblation",
    "Together",
    "ZoneJudgement",
    "PlanResult",
    "TumorPlan",
]

__version__: str = _native.version()

#: The numeric options (name → unit, default, accepted range), from the
#: library's one list; the defaults in the signatures below come from it.
QUANTITIES: dict[str, dict[str, Any]] = {q["name"]: q for q in json.loads(_native.quantities())}
_SEG_THRESHOLD: float = QUANTITIES["seg_threshold"]["default"]
_MAX_MEMORY_GIB: float = QUANTITIES["max_memory_gib"]["default"]
_MARGIN_MM: float = QUANTITIES["margin_mm"]["default"]

#: A path to an image file or DICOM directory.
PathLike = Union[str, "os.PathLike[str]"]
#: A scan: a path, a :class:`Volume`, or a 3-D numpy array.
Source = Union[str, "os.PathLike[str]", Volume, np.ndarray]
#: A role: label values or names of the label map (``5``, ``"liver"``,
#: ``[2, 3]``), a mask file (``"tumour.nii.gz"``, ``"seg.nii.gz:2"``), a
#: :class:`Volume` or a numpy mask.
Role = Union[int, str, Sequence[Union[int, str]], "os.PathLike[str]", Volume, np.ndarray]
Spacing = Sequence[float]
Affine = Union[np.ndarray, Sequence[Sequence[float]]]


def _spacing(spacing_mm: Spacing | None) -> list[float] | None:
    if spacing_mm is None:
        return None
    values = [float(v) for v in spacing_mm]
    if len(values) != 3:
        raise ParameterError(
            f"spacing_mm: expected three spacings in mm, found {spacing_mm!r}",
            field="spacing_mm",
            expected="three spacings in mm",
            found=repr(spacing_mm),
        )
    return values


def _affine(affine: Affine | None) -> list[list[float]] | None:
    if affine is None:
        return None
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4):
        raise ParameterError(
            f"affine: expected a 4x4 matrix, found shape {a.shape}",
            field="affine",
            expected="a 4x4 matrix",
            found=f"shape {a.shape}",
        )
    return [[float(v) for v in row] for row in a]


def _source(value: Any) -> Any:
    """Paths as str; arrays of other kinds (lists, memoryviews) as numpy."""
    if isinstance(value, (str, Volume, np.ndarray)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "__array__") or hasattr(value, "__array_interface__") or isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(
        f"expected a path, a liverkit.Volume or a 3-D array, found {type(value).__name__}"
    )


def _role(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a role is label values or names, a path, a Volume or an array, not a bool")
    if isinstance(value, (int, str, list, tuple)):
        return value if not isinstance(value, tuple) else list(value)
    return _source(value)


def _read(
    series: str | None,
    reference: PathLike | None,
    seg_threshold: float,
    max_memory_gib: float,
    mask_series: bool,
) -> dict[str, Any]:
    """The reading options, as the compiled functions take them."""
    return {
        "read": {
            "series": series,
            "reference": os.fspath(reference) if reference is not None else None,
            "seg_threshold": float(seg_threshold),
            "max_memory_gib": float(max_memory_gib),
            "mask_series": bool(mask_series),
        }
    }


def _check(
    height_cm: float | None,
    weight_kg: float | None,
    bsa: str,
    telv: str,
    condition: str,
    min_flr_pct: float | None,
) -> dict[str, Any]:
    """The patient and the threshold, as ``remnant`` and ``pve`` take them."""
    return {
        "height_cm": None if height_cm is None else float(height_cm),
        "weight_kg": None if weight_kg is None else float(weight_kg),
        "bsa": bsa,
        "telv": telv,
        "condition": condition,
        "min_flr_pct": None if min_flr_pct is None else float(min_flr_pct),
    }


def load(
    path: PathLike,
    *,
    kind: Literal["auto", "labels", "image"] = "auto",
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> Volume:
    """Reads a NIfTI, NRRD or .seg.nrrd file, a DICOM series or a DICOM SEG.

    ``kind="auto"`` reads a segmentation (DICOM SEG, .seg.nrrd, or any file
    whose values are whole numbers, none negative) as a label map and
    anything else (CT in HU, MR intensities stored as floats) as an image;
    ``"labels"`` or ``"image"`` force one. ``series`` picks a DICOM series
    when a directory holds several, ``reference`` puts a SEG on its CT's
    grid, ``seg_threshold`` binarises a FRACTIONAL SEG. ``mask_series=True``
    reads a DICOM image series given where a mask is needed (every non-zero
    stored value inside), as archives that keep one 8-bit series per
    structure store their segmentations.
    """
    return _native.load(
        os.fspath(path), kind, **_read(series, reference, seg_threshold, max_memory_gib, mask_series)
    )


def from_array(
    array: np.ndarray,
    spacing_mm: Spacing | None = None,
    *,
    affine: Affine | None = None,
    names: Mapping[int, str] | None = None,
) -> Volume:
    """A :class:`Volume` from a 3-D array (copied): labels for integer and
    boolean dtypes (with optional ``names``), an image for float dtypes."""
    return _native.volume_from_array(
        np.asarray(array), _spacing(spacing_mm), _affine(affine), dict(names) if names else None
    )


def volumes(
    source: Source | Sequence[PathLike],
    spacing_mm: Spacing | None = None,
    *,
    affine: Affine | None = None,
    masks: bool = False,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> VolumesResult:
    """Volume (mL), bounding box, centroid and edge contact of every label
    (``liverkit volumes --json``).

    ``source`` is a label map (path, Volume or array), a list of mask files,
    or a directory of masks; ``masks=True`` treats one file or array as a
    mask (every non-zero voxel is one structure).
    """
    if isinstance(source, (list, tuple)):
        src: Any = [os.fspath(p) for p in source]
    else:
        src = _source(source)
    text, page = _native.volumes(
        src,
        _spacing(spacing_mm),
        _affine(affine),
        masks,
        threads,
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return VolumesResult(json.loads(text), {"report_html": page})


def _defs(
    remnant: Role | None,
    keep: str | Sequence[int] | None,
    remove: str | Sequence[int] | None,
    resection: str | None,
    plane: str | Sequence[Sequence[float]] | None,
    with_caudate: bool,
) -> dict[str, Any]:
    if plane is not None and not isinstance(plane, str):
        point, normal = plane
        plane = ",".join(str(float(v)) for v in point) + ":" + ",".join(str(float(v)) for v in normal)
    return {
        "remnant": _role(remnant),
        "keep": keep,
        "remove": remove,
        "resection": resection,
        "plane": plane,
        "with_caudate": with_caudate or None,
    }


def remnant(
    labels: Source | None = None,
    spacing_mm: Spacing | None = None,
    *,
    affine: Affine | None = None,
    liver: Role | None = None,
    tumor: Role | None = None,
    segments: Source | None = None,
    remnant: Role | None = None,
    keep: str | Sequence[int] | None = None,
    remove: str | Sequence[int] | None = None,
    resection: str | None = None,
    plane: str | Sequence[Sequence[float]] | None = None,
    with_caudate: bool = False,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    bsa: Literal["mosteller", "dubois"] = "mosteller",
    telv: Literal["vauthey", "urata", "heinemann"] = "vauthey",
    condition: Literal["normal", "chemotherapy", "cirrhosis"] = "normal",
    min_flr_pct: float | None = None,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> RemnantResult:
    """The future liver remnant (``liverkit remnant --json``): total,
    tumour, functional and remnant volumes, FLR %, sFLR % with height and
    weight, and whether the remnant reaches the threshold.

    The remnant is one of ``remnant`` (a region), ``keep`` or ``remove``
    (Couinaud segments, ``"5-8"`` or ``[5, 6, 7, 8]``), ``resection`` (a
    Brisbane 2000 name such as ``"right-hepatectomy"``) or ``plane``
    (``"X,Y,Z:NX,NY,NZ"`` or ``((x, y, z), (nx, ny, nz))``, normal towards
    the removed side). ``result.sufficient`` is False where the command
    line exits with status 1.
    """
    defs = _defs(remnant, keep, remove, resection, plane, with_caudate)
    text, page = _native.remnant(
        _source(labels) if labels is not None else None,
        defs,
        _spacing(spacing_mm),
        _affine(affine),
        liver=_role(liver),
        tumor=_role(tumor),
        segments=_role(segments),
        threads=threads,
        check=_check(height_cm, weight_kg, bsa, telv, condition, min_flr_pct),
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return RemnantResult(json.loads(text), {"report_html": page})


def _days(days: float | None, pre_date: str | None, post_date: str | None, pre: Any, post: Any) -> float:
    if days is not None:
        return float(days)
    if pre_date is not None and post_date is not None:
        return _native.days_between(pre_date, post_date)
    if pre_date is not None or post_date is not None:
        raise ParameterError(
            "pre_date and post_date: expected both dates, found one",
            field="pre_date" if pre_date is None else "post_date",
            expected="both pre_date and post_date (YYYY-MM-DD)",
            found="nothing",
        )
    dates = [_native.scan_date(os.fspath(p)) if isinstance(p, (str, os.PathLike)) else None for p in (pre, post)]
    if dates[0] is not None and dates[1] is not None:
        return _native.days_between(dates[0], dates[1])
    raise ParameterError(
        "days: expected days= or pre_date= and post_date= (scan dates are read only from DICOM inputs), found nothing",
        field="days",
        expected="days= or pre_date= and post_date= (scan dates are read only from DICOM inputs)",
        found="nothing",
    )


def pve(
    pre: Source,
    post: Source,
    spacing_mm: Spacing | None = None,
    *,
    days: float | None = None,
    pre_date: str | datetime.date | None = None,
    post_date: str | datetime.date | None = None,
    affine: Affine | None = None,
    liver: int | str | Sequence[int | str] | None = None,
    tumor: int | str | Sequence[int | str] | None = None,
    pre_segments: Source | None = None,
    post_segments: Source | None = None,
    keep: str | Sequence[int] | None = None,
    remove: str | Sequence[int] | None = None,
    resection: str | None = None,
    plane: str | Sequence[Sequence[float]] | None = None,
    with_caudate: bool = False,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    bsa: Literal["mosteller", "dubois"] = "mosteller",
    telv: Literal["vauthey", "urata", "heinemann"] = "vauthey",
    condition: Literal["normal", "chemotherapy", "cirrhosis"] = "normal",
    min_flr_pct: float | None = None,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> PveResult:
    """Growth of the remnant after portal vein embolisation (``liverkit pve
    --json``): both scans assessed with the same remnant definition, then
    growth, degree of hypertrophy and kinetic growth rate.

    The interval is ``days``, or ``pre_date`` to ``post_date``, or the scan
    dates of DICOM inputs.
    """
    pre_s, post_s = _source(pre), _source(post)
    d = _days(
        days,
        str(pre_date) if pre_date is not None else None,
        str(post_date) if post_date is not None else None,
        pre_s,
        post_s,
    )
    defs = _defs(None, keep, remove, resection, plane, with_caudate)
    text, page = _native.pve(
        pre_s,
        post_s,
        d,
        defs,
        _spacing(spacing_mm),
        _affine(affine),
        liver=_role(liver),
        tumor=_role(tumor),
        pre_segments=_role(pre_segments),
        post_segments=_role(post_segments),
        threads=threads,
        check=_check(height_cm, weight_kg, bsa, telv, condition, min_flr_pct),
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return PveResult(json.loads(text), {"report_html": page})


def distance_transform(
    mask: Volume | np.ndarray,
    spacing_mm: Spacing | None = None,
    signed: bool = False,
    *,
    affine: Affine | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Exact Euclidean distance transform in mm between voxel centres
    (float32, same shape).

    Unsigned: for every non-zero voxel the distance to the nearest zero
    voxel, 0 on zero voxels — what ``scipy.ndimage.distance_transform_edt(
    mask, sampling=spacing_mm)`` gives. Signed: outside the mask the
    distance to the nearest mask voxel (> 0), inside minus the distance to
    the nearest outside voxel (< 0).
    """
    m = mask if isinstance(mask, (Volume, np.ndarray)) else np.asarray(mask)
    return _native.distance_transform(m, _spacing(spacing_mm), _affine(affine), signed, threads)


def target(
    labels: Source,
    spacing_mm: Spacing | None = None,
    *,
    affine: Affine | None = None,
    tumor: Role | None = None,
    liver: Role | None = None,
    vessels: Sequence[int | str] = (),
    margin_mm: float = _MARGIN_MM,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> TargetResult:
    """The ablation target of each tumour: tumour + ``margin_mm`` inside the
    liver, the healthy liver it takes, room at the capsule and nearby
    vessels (``liverkit target --json``); ``result.target_mask`` is the
    union of the targets on the input grid."""
    text, page, mask = _native.target(
        _source(labels),
        _spacing(spacing_mm),
        _affine(affine),
        tumor=_role(tumor),
        liver=_role(liver),
        vessels=[str(v) for v in vessels],
        margin_mm=float(margin_mm),
        threads=threads,
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return TargetResult(json.loads(text), {"target_mask": mask, "report_html": page})


def margin(
    tumor: Role,
    zone: Role,
    spacing_mm: Spacing | None = None,
    *,
    liver: Role | None = None,
    affine: Affine | None = None,
    margin_mm: float = _MARGIN_MM,
    exclude_capsule: bool = False,
    margin_map: bool = False,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> MarginResult:
    """The margin an ablation zone gives each tumour: minimum, percentiles,
    coverage, residual tumour (``liverkit margin --json``).

    ``tumor``, ``zone`` and ``liver`` are mask files (``"FILE"`` or
    ``"FILE:LABEL"``), Volumes or arrays. ``result.sufficient`` is False
    where the command line exits with status 1; with ``margin_map=True``,
    ``result.margin_map`` holds the signed margin on the tumour surface.
    """
    text, page, mmap = _native.margin(
        _role(tumor),
        _role(zone),
        _spacing(spacing_mm),
        _affine(affine),
        liver=_role(liver),
        margin_mm=float(margin_mm),
        exclude_capsule=exclude_capsule,
        margin_map=margin_map,
        threads=threads,
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return MarginResult(json.loads(text), {"margin_map": mmap, "report_html": page})


def _params_json(params: Mapping[str, Any]) -> str:
    """Parameter overrides as the parameter file's JSON layout; dotted keys
    (``"liver.perfusion_1_s"``) are accepted too."""
    tree: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            tree.setdefault(key, {}).update(value)
        elif "." in key:
            group, name = key.split(".", 1)
            tree.setdefault(group, {})[name] = value
        else:
            tree[key] = value
    return json.dumps(tree)


def simulate(
    labels: Source,
    spacing_mm: Spacing | None = None,
    *,
    applicator: Literal["mwa", "rfa"],
    power_w: float,
    time_s: float,
    tip_mm: Sequence[float],
    direction: Sequence[float] | None = None,
    entry_mm: Sequence[float] | None = None,
    affine: Affine | None = None,
    liver: Role | None = None,
    tumor: Role | None = None,
    vessels: Sequence[int | str] = (),
    params: PathLike | Mapping[str, Any] | None = None,
    device: str | None = None,
    protocols: PathLike | None = None,
    allow_outside: bool = False,
    lattice_spacing_mm: float | None = None,
    margin_mm: float = _MARGIN_MM,
    exclude_capsule: bool = False,
    out_dir: PathLike | None = None,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> SimulateResult:
    """Predicts the ablation zone with the bioheat equation on the
    patient's voxels and judges whether it covers the targeted tumour and
    its margin (``liverkit simulate --json``).

    ``params`` is a parameter file (TOML or JSON) or a mapping of overrides
    (``{"liver": {"perfusion_1_s": 0.0}}`` or ``{"liver.perfusion_1_s":
    0.0}``). ``result.covers_target`` is False where the command line exits
    with status 1; ``result.zone70_mask`` is the 70 °C zone on the scan's
    grid.
    """
    file_params: Any = None
    json_params: str | None = None
    if isinstance(params, Mapping):
        json_params = _params_json(params)
    elif params is not None:
        file_params = os.fspath(params)
    text, page, zone = _native.simulate(
        _source(labels),
        applicator,
        float(power_w),
        float(time_s),
        [float(v) for v in tip_mm],
        direction=[float(v) for v in direction] if direction is not None else None,
        entry_mm=[float(v) for v in entry_mm] if entry_mm is not None else None,
        spacing_mm=_spacing(spacing_mm),
        affine=_affine(affine),
        liver=_role(liver),
        tumor=_role(tumor),
        vessels=[str(v) for v in vessels],
        params=file_params,
        params_json=json_params,
        device=device,
        protocols=os.fspath(protocols) if protocols is not None else None,
        allow_outside=allow_outside,
        lattice_spacing_mm=lattice_spacing_mm,
        margin_mm=float(margin_mm),
        exclude_capsule=exclude_capsule,
        out_dir=os.fspath(out_dir) if out_dir is not None else None,
        threads=threads,
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return SimulateResult(json.loads(text), {"zone70_mask": zone, "report_html": page})


def info(
    path: PathLike,
    *more: PathLike,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> InfoResult:
    """The header of an image as liverkit reads it (``liverkit info
    --json``): format, grid, data type, label names; for a DICOM directory
    or several DICOM files, each series with its folder, description and
    file count."""
    paths = [os.fspath(p) for p in (path, *more)]
    text = _native.info(paths, **_read(series, reference, seg_threshold, max_memory_gib, mask_series))
    return InfoResult(json.loads(text))


def protocols(
    *,
    protocols: PathLike | None = None,
    params: PathLike | None = None,
    calibrate: bool = False,
    chart: PathLike | None = None,
    device: str | None = None,
    out: PathLike | None = None,
    check: bool = False,
    leave_one_out: bool = False,
    threads: int | None = None,
) -> ProtocolsResult:
    """The device library (``liverkit protocols --json``): each device and
    setting with its published zone and source. ``calibrate=True`` refits the
    microwave source of each microwave device (or of ``device``) and reports
    the errors on the fitted and held-out settings (about a minute per device
    on 2 cores); with ``chart`` (a CSV of ``power_w,time_s,short_axis_mm,
    long_axis_mm``) it fits a new device named ``device`` to your own zones,
    and ``out`` writes the calibrated library. ``check=True`` simulates every
    microwave setting and reports the model's zones beside the table's.
    ``leave_one_out=True`` (with ``calibrate``) also predicts every setting
    from a fit to all the others (one fit per setting)."""

    def path(p: PathLike | None) -> str | None:
        return os.fspath(p) if p is not None else None

    text = _native.protocols(
        protocols=path(protocols),
        params=path(params),
        calibrate=calibrate,
        chart=path(chart),
        device=device,
        out=path(out),
        check=check,
        leave_one_out=leave_one_out,
        threads=threads,
    )
    return ProtocolsResult(json.loads(text))


def plan(
    labels: Source,
    *,
    tumor: Role | None = None,
    liver: Role | None = None,
    vessels: Sequence[int | str] = (),
    applicator: str = "mwa",
    device: str | None = None,
    protocols: PathLike | None = None,
    margin_mm: float = _MARGIN_MM,
    body: Role | None = None,
    image: PathLike | None = None,
    vessel_clearance_mm: float | None = None,
    obstacle_clearance_mm: float | None = None,
    min_liver_mm: float | None = None,
    min_capsule_angle_deg: float | None = None,
    no_posterior: bool = False,
    directions: int = 4000,
    confirm: int = 3,
    out_dir: PathLike | None = None,
    spacing_mm: Spacing | None = None,
    affine: Affine | None = None,
    threads: int | None = None,
    series: str | None = None,
    reference: PathLike | None = None,
    seg_threshold: float = _SEG_THRESHOLD,
    max_memory_gib: float = _MAX_MEMORY_GIB,
    mask_series: bool = False,
) -> PlanResult:
    """Plans a microwave (or, with ``applicator="rfa"``, radiofrequency)
    ablation (``liverkit plan --json``): the straight
    paths from the skin that pass every constraint, the tip, power and time
    whose 70 °C zone covers the tumour and ``margin_mm``, the best ones
    confirmed with the full simulation, and why the other directions were
    refused; when no single ablation covers, overlapping ablations
    (``result.multi_ablation``), and when those fall short one after
    another, the same antennas powered together
    (``result.multi_ablation.together``). Each target of the mask is planned on its
    own (a tumour, or several less than two margins apart, whose targets
    touch): the largest at the top level, the others in
    ``result.other_tumors``. ``out_dir`` receives the recommended plans'
    paths, tips and zone masks. ``result.all_tumors_covered`` is False where
    the command line exits with status 1."""
    text = _native.plan(
        _source(labels),
        tumor=_role(tumor),
        liver=_role(liver),
        vessels=[str(v) for v in vessels],
        applicator=applicator,
        device=device,
        protocols=os.fspath(protocols) if protocols is not None else None,
        margin_mm=float(margin_mm),
        body=_role(body),
        image=os.fspath(image) if image is not None else None,
        vessel_clearance_mm=vessel_clearance_mm,
        obstacle_clearance_mm=obstacle_clearance_mm,
        min_liver_mm=min_liver_mm,
        min_capsule_angle_deg=min_capsule_angle_deg,
        no_posterior=no_posterior,
        directions=directions,
        confirm=confirm,
        out_dir=os.fspath(out_dir) if out_dir is not None else None,
        spacing_mm=_spacing(spacing_mm),
        affine=_affine(affine),
        threads=threads,
        **_read(series, reference, seg_threshold, max_memory_gib, mask_series),
    )
    return PlanResult(json.loads(text))
