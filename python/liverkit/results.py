"""Immutable result objects.

Each result holds the JSON report of the matching command-line command
(``liverkit volumes --json`` and so on) and shows its keys as attributes:
every number carries its unit in its name (``volume_ml``, ``min_margin_mm``,
``sflr_pct``). Nested objects are results too, lists are tuples, and
``to_dict()`` gives back a fresh copy of the report, equal to what the
command line prints for the same inputs. Arrays that the command line
writes to files (the target mask, the margin map, the 70 °C zone) are extra
attributes, outside ``to_dict()``.

The results of ``volumes``, ``remnant``, ``pve``, ``target``, ``margin`` and
``simulate`` also carry the command's HTML report (``report_html``: the
verdict, the key numbers, the charts and the warnings of ``--report``; the
slices and the 3D view need the command line). Jupyter shows it
(``_repr_html_``) and ``write_report(path)`` saves it.
"""

from __future__ import annotations

import copy
import html
import json
import os
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np

__all__ = [
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
    "PlanResult",
    "TumorPlan",
]


def _freeze(value: Any, cls: type[Record]) -> Any:
    if isinstance(value, dict):
        return cls(value)
    if isinstance(value, list):
        return tuple(_freeze(v, cls) for v in value)
    return value


class Record:
    """A read-only view of one JSON object of a report."""

    # Keys whose objects (or lists of objects) are given a typed class.
    _nested: ClassVar[Mapping[str, type[Record]]] = {}
    __slots__ = ("_data", "_arrays")

    def __init__(self, data: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data))
        frozen: dict[str, Any] = {}
        for name, value in (arrays or {}).items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            frozen[name] = value
        object.__setattr__(self, "_arrays", frozen)

    def __getattr__(self, name: str) -> Any:
        data = object.__getattribute__(self, "_data")
        if name in data:
            return _freeze(data[name], self._nested.get(name, Record))
        arrays = object.__getattribute__(self, "_arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}; keys: {', '.join(data)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getitem__(self, key: str) -> Any:
        return self.__getattr__(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._data) | set(self._arrays))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and type(other) is type(self) and other._data == self._data

    def __hash__(self) -> int:
        return hash(json.dumps(self._data, sort_keys=True))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._data.items() if not isinstance(v, (list, dict)))
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._data, self._arrays))

    def _repr_html_(self) -> str | None:
        """The report's page in Jupyter, in a frame of its own (its styles
        stay inside), or None (plain repr) for a result without one."""
        page = object.__getattribute__(self, "_arrays").get("report_html")
        if page is None:
            return None
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" '
            'style="width:100%;height:640px;border:1px solid #ccc"></iframe>'
        )

    def write_report(self, path: str | os.PathLike[str]) -> str:
        """Writes the HTML report (what ``report_html`` holds) to ``path``,
        through a temporary file in the same folder, so that a failed write
        leaves no half page; returns the path."""
        page = object.__getattribute__(self, "_arrays").get("report_html")
        if page is None:
            raise TypeError(f"{type(self).__name__} has no HTML report")
        target = os.fspath(path)
        tmp = os.path.join(os.path.dirname(target) or ".", f".{os.path.basename(target)}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(page)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return target

    def keys(self) -> list[str]:
        """The report's keys, in the command line's order."""
        return list(self._data)

    def to_dict(self) -> dict[str, Any]:
        """The report as the command line's ``--json`` prints it (a copy)."""
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        """The report as one line of JSON."""
        return json.dumps(self._data)


class LabelVolume(Record):
    """Volumetry of one label."""

    label: int
    name: str | None
    voxels: int
    volume_ml: float
    bbox_min: tuple[int, int, int]
    bbox_max: tuple[int, int, int]
    centroid_mm: tuple[float, float, float]
    touches_edge: bool
    edge_faces: tuple[Record, ...]


class VolumesResult(Record):
    """What ``liverkit volumes --json`` prints."""

    _nested = {"labels": LabelVolume}
    input: tuple[str, ...]
    dims: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    voxel_volume_mm3: float
    orientation: str
    coordinate_system: str
    affine: tuple[tuple[float, ...], ...]
    warnings: tuple[Record, ...]
    labels: tuple[LabelVolume, ...]
    absent_labels: tuple[Record, ...]

    def volume_ml(self, label: int | str) -> float:
        """Volume of a label given by value or name, mL (0 when absent)."""
        for entry in self.labels:
            if entry.label == label or (entry.name is not None and entry.name == label):
                return float(entry.volume_ml)
        return 0.0


class SegmentVolume(Record):
    """One Couinaud segment of the functional liver."""

    segment: int
    volume_ml: float
    pct: float
    tumor_ml: float
    in_remnant: bool | None


class RemnantResult(Record):
    """What ``liverkit remnant --json`` prints."""

    _nested = {"segments": SegmentVolume}
    input: tuple[str, ...]
    roles: Record
    remnant_definition: str | None
    total_liver_ml: float
    tumor_ml: float
    tumor_outside_liver_ml: float
    functional_liver_ml: float
    remnant_ml: float | None
    remnant_tumor_ml: float | None
    resected_ml: float | None
    flr_pct: float | None
    height_cm: float | None
    weight_kg: float | None
    bsa_m2: float | None
    bsa_formula: str | None
    telv_ml: float | None
    telv_formula: str | None
    sflr_pct: float | None
    flr_bwr_pct: float | None
    flr_bwr_low: bool | None
    condition: str | None
    threshold_pct: float
    threshold_source: str
    threshold_basis: str
    checked_pct: float | None
    margin_points: float | None
    sufficient: bool | None
    uncertainty_points: float | None
    borderline: bool | None
    verdict: str
    liver_touches_edge: bool
    segments: tuple[SegmentVolume, ...]
    segments_filled_ml: float | None
    segments_unassigned_ml: float | None
    resections: tuple[Record, ...]
    warnings: tuple[Record, ...]
    formulas: tuple[Record, ...]


class PveResult(Record):
    """What ``liverkit pve --json`` prints."""

    _nested = {"pre": RemnantResult, "post": RemnantResult}
    pre: RemnantResult
    post: RemnantResult
    days: float
    weeks: float
    basis: str
    dh_points: float
    kgr_points_per_week: float
    kgr_sufficient: bool
    dh_ge_5_points: bool
    flr_growth_ml: float
    flr_growth_pct: float
    flr_growth_pct_per_day: float
    threshold_pct: float
    sufficient: bool
    verdict: str
    warnings: tuple[Record, ...]
    formulas: tuple[Record, ...]


class TargetZone(Record):
    """The ablation target of one tumour."""

    tumor: int
    label: int | None
    label_name: str | None
    first_voxel: tuple[int, int, int]
    tumor_ml: float
    centroid_mm: tuple[float, float, float]
    target_ml: float
    healthy_liver_in_target_ml: float
    healthy_liver_in_target_pct: float
    outside_liver_ml: float
    subcapsular_surface_pct: float
    vessels: tuple[Record, ...]


class TargetResult(Record):
    """What ``liverkit target --json`` prints, with the target mask."""

    _nested = {"tumors": TargetZone}
    input: tuple[str, ...]
    margin_mm: float
    functional_liver_ml: float
    tumors: tuple[TargetZone, ...]
    target_file: str | None
    warnings: tuple[Record, ...]
    #: The union of the target zones on the input grid (what ``--out`` writes).
    target_mask: np.ndarray


class TumorMargin(Record):
    """The margin of one tumour."""

    tumor: int
    tumor_ml: float
    centroid_mm: tuple[float, float, float]
    min_margin_mm: float
    min_margin_at_mm: tuple[float, float, float]
    min_margin_at_lps_mm: tuple[float, float, float]
    p5_margin_mm: float
    median_margin_mm: float
    max_margin_mm: float
    coverage_ge0_pct: float
    coverage_ge5_pct: float
    coverage_ge10_pct: float
    surface_area_mm2: float
    sufficient: bool
    residual_tumor_ml: float
    under5_ml: float
    under10_ml: float
    shortfalls: tuple[Record, ...]
    capsule_excluded: Record | None
    touches_edge: bool


class MarginResult(Record):
    """What ``liverkit margin --json`` prints, with the margin map when asked."""

    _nested = {"tumors": TumorMargin}
    input: tuple[str, ...]
    margin_mm: float
    exclude_capsule: bool
    surface_sampling: str
    tumors: tuple[TumorMargin, ...]
    sufficient: bool
    verdict: str
    warnings: tuple[Record, ...]
    #: Signed margin on the tumour surface, mm (NaN elsewhere), or None.
    margin_map: np.ndarray | None


class SimulateResult(Record):
    """What ``liverkit simulate --json`` prints, with the 70 °C zone."""

    input: tuple[str, ...]
    applicator: Record
    reference: Record | None
    zone70_ml: float
    zone70_mask_ml: float
    zone_length_mm: float
    zone_diameter_mm: float
    zone_beyond_tip_mm: float
    zone_damage_ml: float
    zone_damage_length_mm: float
    zone_damage_diameter_mm: float
    zone_cem43_ml: float
    max_temperature_c: float
    margin_mm: float
    min_margin_mm: float | None
    coverage_ge0_pct: float | None
    coverage_ge5_pct: float | None
    coverage_ge10_pct: float | None
    residual_tumor_ml: float | None
    covers_target: bool | None
    damage_zone_min_margin_mm: float | None
    damage_zone_covers_target: bool | None
    tumor: Record | None
    grid: Record
    steps: int
    dt_s: float
    dt_bound_s: float
    deposited_w: float
    generator_energy_j: float
    dried_ml: float
    verdict_zone: str
    energy: Record
    rf: Record | None
    vessels: tuple[Record, ...]
    applicator_vessels: tuple[Record, ...]
    outputs: Record
    parameters: Record
    warnings: tuple[Record, ...]
    #: The zone at or above 70 °C on the scan's grid.
    zone70_mask: np.ndarray


class InfoResult(Record):
    """What ``liverkit info --json`` prints: the header as liverkit reads it.
    Its keys depend on the format (``format`` says which: NIfTI, NRRD, or a
    DICOM series or SEG)."""


class ProtocolsResult(Record):
    """What ``liverkit protocols --json`` prints: the devices, their settings
    with the published zones (and the model's, with ``check``), and the
    calibrations run."""

    devices: tuple[Record, ...]
    settings: tuple[Record, ...]
    calibration: tuple[Record, ...]


class PlanCandidate(Record):
    """One ranked plan: entry and tip, protocol, predicted and confirmed zone."""

    rank: int
    entry_mm: tuple[float, float, float]
    entry_lps_mm: tuple[float, float, float]
    entry_voxel: tuple[float, float, float]
    tip_mm: tuple[float, float, float]
    tip_lps_mm: tuple[float, float, float]
    tip_voxel: tuple[float, float, float]
    direction: tuple[float, float, float]
    depth_mm: float
    power_w: float
    time_s: float
    predicted_zone_mm: tuple[float, float]
    predicted_coverage_pct: float
    confirmed_zone_mm: tuple[float, float] | None
    liver_path_mm: float
    vessel_clearance_mm: float | None
    obstacle_clearance_mm: float | None
    capsule_angle_deg: float
    covers_target: bool | None
    min_margin_mm: float | None
    coverage_ge10_pct: float | None
    zone70_ml: float | None
    healthy_liver_ablated_ml: float | None
    healthy_liver_ablated_pct: float | None
    heat_sink_ml: float | None


class ZoneJudgement(Record):
    """How the 70 °C zone of several ablations (their union, or the antennas
    powered together) treats the target."""

    covers_target: bool
    min_margin_mm: float
    coverage_ge10_pct: float
    residual_tumor_ml: float
    zone70_ml: float
    healthy_liver_ablated_ml: float
    healthy_liver_ablated_pct: float | None


class Together(ZoneJudgement):
    """The antennas of a multi-ablation plan powered at the same time (one
    simulation in which their heat adds)."""

    antennas: int
    power_w: float
    time_s: float


class MultiAblation(ZoneJudgement):
    """Overlapping ablations for a target no single zone holds; the
    judgement is their union's."""

    _nested = {"ablations": PlanCandidate, "together": Together}
    ablations: tuple[PlanCandidate, ...]
    predicted_coverage_pct: float
    delivery: str
    together: Together | None


class TumorPlan(Record):
    """The plan for one target of the mask: one tumour, or several whose
    targets (tumour + margin) touch, planned together
    (``tumors_in_target``)."""

    _nested = {"plans": PlanCandidate, "multi_ablation": MultiAblation}
    tumor_index: int
    tumors_in_target: int
    tumor_centre_mm: tuple[float, float, float]
    tumor_ml: float
    target_ml: float
    directions_admissible: int
    rejected: Record
    plans: tuple[PlanCandidate, ...]
    multi_ablation: MultiAblation | None
    recommended: str
    covers_target: bool
    verdict: str
    confirm_escalations: int


class PlanResult(TumorPlan):
    """What ``liverkit plan --json`` prints: the largest tumour's plan at the
    top level (the fields of ``TumorPlan``), the mask's other tumours in
    ``other_tumors``."""

    _nested = {**TumorPlan._nested, "other_tumors": TumorPlan}
    input: tuple[str, ...]
    device: str
    margin_mm: float
    directions_tried: int
    obstacles: Record
    protocols: tuple[Record, ...]
    other_tumors: tuple[TumorPlan, ...]
    tumors_not_planned: int
    all_tumors_covered: bool
    timing_s: Record
    outputs: Record
    warnings: tuple[Record, ...]
