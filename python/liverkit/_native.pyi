# Type stubs of the compiled module (python/src/*.rs). The public API is in
# liverkit/__init__.py; these functions take its normalised arguments.

from typing import Any, final

import numpy as np

__all__ = [
    "Volume",
    "days_between",
    "distance_transform",
    "info",
    "load",
    "margin",
    "plan",
    "protocols",
    "pve",
    "quantities",
    "remnant",
    "scan_date",
    "simulate",
    "target",
    "version",
    "volume_from_array",
    "volumes",
]

@final
class Volume:
    """An image or label map with its grid, as ``liverkit.load`` reads it."""

    @property
    def array(self) -> np.ndarray: ...
    @property
    def spacing_mm(self) -> tuple[float, float, float]: ...
    @property
    def affine(self) -> np.ndarray: ...
    @property
    def labels(self) -> dict[int, str]: ...
    @property
    def orientation(self) -> str: ...
    @property
    def shape(self) -> tuple[int, int, int]: ...
    @property
    def kind(self) -> str: ...
    @property
    def path(self) -> str | None: ...
    @property
    def warnings(self) -> list[str]: ...

def load(
    path: str,
    kind: str,
    read: dict[str, Any],
) -> Volume: ...
def volume_from_array(
    array: np.ndarray,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    names: dict[int, str] | None = None,
) -> Volume: ...
def volumes(
    source: Any,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    masks: bool = False,
    threads: int | None = None,
    *,
    read: dict[str, Any],
) -> tuple[str, str]: ...
def distance_transform(
    mask: Any,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    signed: bool = False,
    threads: int | None = None,
) -> np.ndarray: ...
def remnant(
    labels: Any,
    defs: dict[str, Any],
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    liver: Any = None,
    tumor: Any = None,
    segments: Any = None,
    threads: int | None = None,
    *,
    check: dict[str, Any],
    read: dict[str, Any],
) -> tuple[str, str]: ...
def pve(
    pre: Any,
    post: Any,
    days: float,
    defs: dict[str, Any],
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    liver: Any = None,
    tumor: Any = None,
    pre_segments: Any = None,
    post_segments: Any = None,
    threads: int | None = None,
    *,
    check: dict[str, Any],
    read: dict[str, Any],
) -> tuple[str, str]: ...
def target(
    labels: Any,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    tumor: Any = None,
    liver: Any = None,
    vessels: list[str] = ...,
    margin_mm: float | None = None,
    threads: int | None = None,
    *,
    read: dict[str, Any],
) -> tuple[str, str, np.ndarray]: ...
def margin(
    tumor: Any,
    zone: Any,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    liver: Any = None,
    margin_mm: float | None = None,
    exclude_capsule: bool = False,
    margin_map: bool = False,
    threads: int | None = None,
    *,
    read: dict[str, Any],
) -> tuple[str, str, np.ndarray | None]: ...
def simulate(
    labels: Any,
    applicator: str,
    power_w: float,
    time_s: float,
    tip_mm: list[float],
    direction: list[float] | None = None,
    entry_mm: list[float] | None = None,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    liver: Any = None,
    tumor: Any = None,
    vessels: list[str] = ...,
    params: Any = None,
    params_json: str | None = None,
    device: str | None = None,
    protocols: str | None = None,
    allow_outside: bool = False,
    lattice_spacing_mm: float | None = None,
    margin_mm: float | None = None,
    exclude_capsule: bool = False,
    out_dir: str | None = None,
    threads: int | None = None,
    *,
    read: dict[str, Any],
) -> tuple[str, str, np.ndarray]: ...
def days_between(pre: str, post: str) -> float: ...
def info(paths: list[str], *, read: dict[str, Any]) -> str: ...
def protocols(
    protocols: str | None = None,
    params: str | None = None,
    calibrate: bool = False,
    chart: str | None = None,
    device: str | None = None,
    out: str | None = None,
    check: bool = False,
    leave_one_out: bool = False,
    threads: int | None = None,
) -> str: ...
def plan(
    labels: Any,
    tumor: Any = None,
    liver: Any = None,
    vessels: list[str] = ...,
    applicator: str = "mwa",
    device: str | None = None,
    protocols: str | None = None,
    margin_mm: float | None = None,
    body: Any = None,
    image: str | None = None,
    vessel_clearance_mm: float | None = None,
    obstacle_clearance_mm: float | None = None,
    min_liver_mm: float | None = None,
    min_capsule_angle_deg: float | None = None,
    no_posterior: bool = False,
    directions: int = 4000,
    confirm: int = 3,
    out_dir: str | None = None,
    spacing_mm: list[float] | None = None,
    affine: list[list[float]] | None = None,
    threads: int | None = None,
    *,
    read: dict[str, Any],
) -> str: ...
def scan_date(path: str) -> str | None: ...
def version() -> str: ...
def quantities() -> str: ...
