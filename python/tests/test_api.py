"""Every function's result equals the command line's JSON, results are
immutable, and inputs of any layout and integer dtype give the same
numbers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import liverkit
from liverkit import results

S = "testdata/sample_case"
PRE = f"{S}/pre_pve.nii.gz"
POST = f"{S}/post_pve.nii.gz"
ZONE = f"{S}/ablation_zone.nii.gz"


@pytest.fixture(scope="module")
def pre():
    return liverkit.load(PRE)


def test_volumes_equal_cli(cli):
    assert liverkit.volumes(PRE).to_dict() == cli("volumes", PRE)
    masks = "testdata/totalsegmentator/example_seg_fast"
    assert liverkit.volumes(masks).to_dict() == cli("volumes", masks)
    files = [f"{masks}/liver.nii.gz", f"{masks}/spleen.nii.gz"]
    assert liverkit.volumes(files).to_dict() == cli("volumes", *files)
    assert liverkit.volumes(files[0], masks=True).to_dict() == cli("volumes", "--masks", files[0])


def test_remnant_equal_cli(cli):
    args = ["--resection", "right-hepatectomy", "--height-cm", "175", "--weight-kg", "75"]
    r = liverkit.remnant(PRE, resection="right-hepatectomy", height_cm=175, weight_kg=75)
    assert r.to_dict() == cli("remnant", PRE, *args)
    assert r.sufficient is True and r.sflr_pct == pytest.approx(20.26, abs=0.01)
    k = liverkit.remnant(PRE, keep=[1, 2, 3, 4], condition="chemotherapy")
    assert k.to_dict() == cli("remnant", PRE, "--keep", "1,2,3,4", "--condition", "chemotherapy")
    p = liverkit.remnant(PRE, plane=((60.0, 0.0, 0.0), (-1.0, 0.0, 0.0)))
    assert p.to_dict() == cli("remnant", PRE, "--plane", "60,0,0:-1,0,0")


def test_pve_equal_cli(cli):
    r = liverkit.pve(PRE, POST, resection="right-hepatectomy", pre_date="2026-03-02", post_date="2026-03-30")
    expected = cli(
        "pve", PRE, POST, "--resection", "right-hepatectomy", "--pre-date", "2026-03-02", "--post-date", "2026-03-30"
    )
    assert r.to_dict() == expected
    assert isinstance(r.pre, results.RemnantResult) and r.days == 28


def test_target_equal_cli(cli, tmp_path):
    r = liverkit.target(PRE)
    assert r.to_dict() == cli("target", PRE)
    out = tmp_path / "t.nii.gz"
    cli("target", PRE, "--out", str(out))
    written = liverkit.load(out)
    assert np.array_equal(written.array.astype(bool), r.target_mask)


def test_margin_equal_cli(cli, pre):
    r = liverkit.margin(f"{PRE}:liver_tumor", ZONE, liver=PRE)
    assert r.to_dict() == cli("margin", "--tumor", f"{PRE}:liver_tumor", "--zone", ZONE, "--liver", PRE)
    assert r.margin_map is None
    # Arrays take the grid of the Volume among the roles.
    tumor_value = next(k for k, n in pre.labels.items() if n == "liver_tumor")
    zone = liverkit.load(ZONE)
    a = liverkit.margin(pre.array == tumor_value, zone, margin_map=True)
    assert a.tumors[0].min_margin_mm == r.tumors[0].min_margin_mm
    assert a.margin_map is not None and a.margin_map.shape == pre.shape


def test_simulate_equal_cli(cli):
    args = dict(applicator="mwa", power_w=60, time_s=120, tip_mm=(70, -30, -45), direction=(0, 0, -1))
    r = liverkit.simulate(PRE, **args)
    expected = cli(
        "simulate", PRE, "--applicator", "mwa", "--power-w", "60", "--time-s", "120",
        "--tip", "70,-30,-45", "--direction", "0,0,-1",
    )
    assert r.to_dict() == expected
    assert r.zone70_mask.shape == liverkit.load(PRE).shape
    assert r.zone70_mask.sum() > 0


def test_simulate_parameter_overrides(cli, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"liver": {"perfusion_1_s": 0.0}}))
    args = dict(applicator="mwa", power_w=60, time_s=120, tip_mm=(70, -30, -45), direction=(0, 0, -1))
    from_dict = liverkit.simulate(PRE, params={"liver.perfusion_1_s": 0.0}, **args)
    from_file = liverkit.simulate(PRE, params=params, **args)
    assert from_dict.zone70_ml == from_file.zone70_ml
    assert from_dict.zone70_ml > liverkit.simulate(PRE, **args).zone70_ml


def test_result_keys_match_typed_attributes(cli):
    """The typed attributes of each result are exactly the command's keys."""
    arrays = {"target_mask", "margin_map", "zone70_mask"}
    made = {
        results.VolumesResult: liverkit.volumes(PRE),
        results.RemnantResult: liverkit.remnant(PRE, resection="right-hepatectomy", height_cm=175, weight_kg=75),
        results.PveResult: liverkit.pve(PRE, POST, resection="right-hepatectomy", days=28),
        results.TargetResult: liverkit.target(PRE),
        results.MarginResult: liverkit.margin(f"{PRE}:liver_tumor", ZONE),
    }
    for cls, r in made.items():
        assert type(r) is cls
        assert set(cls.__annotations__) - arrays == set(r.keys()), cls.__name__
    v = made[results.VolumesResult]
    assert set(results.LabelVolume.__annotations__) == set(v.labels[0].keys())
    t = made[results.MarginResult].tumors[0]
    assert set(results.TumorMargin.__annotations__) == set(t.keys())
    z = made[results.TargetResult].tumors[0]
    assert set(results.TargetZone.__annotations__) == set(z.keys())


def test_results_are_immutable(pre):
    r = liverkit.volumes(pre)
    with pytest.raises(AttributeError):
        r.labels = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        r.labels[0].volume_ml = 1.0  # type: ignore[misc]
    assert isinstance(r.labels, tuple)
    d = r.to_dict()
    d["labels"].clear()
    assert len(r.labels) > 0 and r.to_dict() != d
    assert not pre.array.flags.writeable
    with pytest.raises(ValueError):
        pre.array[0, 0, 0] = 1


def test_volume_shares_memory_and_geometry(pre):
    a, b = pre.array, pre.array
    assert np.shares_memory(a, b)
    assert pre.shape == a.shape
    assert pre.orientation == "RAS"
    assert pre.labels[9] == "liver_tumor"
    assert np.allclose(np.abs(np.diag(pre.affine)[:3]), pre.spacing_mm)
    assert pre.kind == "labels"


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64])
def test_any_integer_dtype_gives_the_same_volumes(pre, dtype):
    ref = liverkit.volumes(pre)
    arr = pre.array.astype(dtype)
    r = liverkit.volumes(arr, affine=pre.affine)
    assert [(x.label, x.voxels, x.volume_ml) for x in r.labels] == [
        (x.label, x.voxels, x.volume_ml) for x in ref.labels
    ]


def test_c_fortran_and_strided_arrays_round_trip(pre):
    ref = liverkit.volumes(pre).to_dict()["labels"]
    f = np.asfortranarray(pre.array)
    c = np.ascontiguousarray(pre.array)
    strided = np.zeros((pre.shape[0] * 2, pre.shape[1], pre.shape[2]), dtype=np.uint8)[::2]
    strided[...] = pre.array
    assert not strided.flags.c_contiguous and not strided.flags.f_contiguous
    for arr in (f, c, strided):
        got = liverkit.volumes(arr, affine=pre.affine).to_dict()["labels"]
        assert [(x["label"], x["voxels"], x["centroid_mm"]) for x in got] == [
            (x["label"], x["voxels"], x["centroid_mm"]) for x in ref
        ]
    # A Volume made from a reversed view holds the same voxels.
    rev = pre.array[::-1, :, :]
    v = liverkit.from_array(rev, pre.spacing_mm)
    assert np.array_equal(v.array, rev)


def test_roles_as_arrays_match_roles_as_labels(pre):
    by_name = liverkit.remnant(pre, resection="right-hepatectomy")
    tumor = pre.array == 9
    by_array = liverkit.remnant(pre, tumor=tumor, resection="right-hepatectomy")
    assert by_array.remnant_ml == by_name.remnant_ml
    assert by_array.tumor_ml == by_name.tumor_ml
    assert "<tumor>" in by_array.input


def test_array_inputs_need_a_spacing(pre):
    with pytest.raises(liverkit.ParameterError) as e:
        liverkit.volumes(np.asarray(pre.array))
    assert e.value.field == "spacing_mm"


def test_simulate_writes_its_maps_like_the_cli(tmp_path):
    args = dict(applicator="mwa", power_w=60, time_s=120, tip_mm=(70, -30, -45), direction=(0, 0, -1))
    r = liverkit.simulate(PRE, out_dir=tmp_path, **args)
    names = {"zone70", "zone_damage", "tmax_c", "time_to_70c_s", "damage_omega", "cem43_min", "tissue"}
    assert set(r.outputs.keys()) == names
    zone = liverkit.load(r.outputs["zone70"])
    pre = liverkit.load(PRE)
    assert np.array_equal(zone.array.astype(bool), r.zone70_mask)
    assert np.allclose(zone.affine, pre.affine)
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_info_and_protocols_equal_the_command_line(cli):
    assert liverkit.info(PRE).to_dict() == cli("info", PRE)
    series = "testdata/totalsegmentator/example_ct_dicom"
    assert liverkit.info(series).to_dict() == cli("info", series)
    lib = liverkit.protocols()
    assert lib.to_dict() == cli("protocols")
    # The shipped microwave device is the published table [He2010]: 18 settings.
    he2010 = [s for s in lib.settings if s.device == "mwa-2450-cooled"]
    assert len(he2010) == 18 and all(s.source for s in he2010)


def _section(page: str, tag_id: str) -> str:
    start = page.index(f'id="{tag_id}"')
    return page[start : page.index("</table>", start)]


def test_reports_show_in_jupyter_and_match_the_command_line(cli, tmp_path):
    """The page a result carries has the command line's verdict and key
    numbers; Jupyter shows it in a frame; write_report saves it whole or
    not at all."""
    args = ["--resection", "right-hepatectomy", "--height-cm", "175", "--weight-kg", "75"]
    r = liverkit.remnant(PRE, resection="right-hepatectomy", height_cm=175, weight_kg=75)
    cli_page = tmp_path / "cli.html"
    cli("remnant", PRE, *args, "--report", str(cli_page))
    cli_html = cli_page.read_text(encoding="utf-8")
    assert _section(r.report_html, "numbers") == _section(cli_html, "numbers")
    assert f"{r.remnant_ml:.1f} mL" in r.report_html
    shown = r._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;!DOCTYPE html&gt;" in shown
    out = r.write_report(tmp_path / "py.html")
    assert (tmp_path / "py.html").read_text(encoding="utf-8") == r.report_html and out.endswith("py.html")
    with pytest.raises(OSError):
        r.write_report(tmp_path / "no_such_dir" / "r.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.html", "py.html"]
    m = liverkit.margin(f"{PRE}:liver_tumor", ZONE)
    assert m.verdict.split(":")[0] in m.report_html
    v = liverkit.volumes(PRE)
    assert f"{len(v.labels)} labels" in v._repr_html_()
    # Records without a page (nested ones) fall back to the plain repr.
    assert r.segments[0]._repr_html_() is None


def test_plan_equals_cli(cli):
    """liverkit.plan reports what ``liverkit plan --json`` prints (but the
    time each stage took)."""
    # The two plans run side by side (liverkit.plan releases the GIL): each
    # takes about a minute on two cores, and neither keeps both busy.
    with ThreadPoolExecutor(max_workers=1) as pool:
        from_cli = pool.submit(cli, "plan", PRE, "--directions", "300", "--confirm", "1")
        r = liverkit.plan(PRE, directions=300, confirm=1)
        expected = from_cli.result()
    got = r.to_dict()
    for d in (got, expected):
        d.pop("timing_s")
    assert got == expected
    assert isinstance(r.plans[0], results.PlanCandidate)
    assert r.covers_target is False and "NO SINGLE PLAN" in r.verdict
    case_and_tumour = set(results.PlanResult.__annotations__) | set(results.TumorPlan.__annotations__)
    assert case_and_tumour == set(r.keys())
    assert set(results.PlanCandidate.__annotations__) == set(r.plans[0].keys())
    # The sample's mask holds two separate tumours: the smaller one is
    # planned on its own.
    (other,) = r.other_tumors
    assert isinstance(other, results.TumorPlan) and other.tumor_index == 2
    assert set(results.TumorPlan.__annotations__) == set(other.keys())
    assert other.tumor_ml < r.tumor_ml and r.all_tumors_covered is False
    # No single zone covers: overlapping ablations, and the same antennas
    # powered together, whose zone is larger than the union.
    m = r.multi_ablation
    assert isinstance(m, results.MultiAblation) and isinstance(m.together, results.Together)
    judged = set(results.ZoneJudgement.__annotations__)
    assert judged | set(results.MultiAblation.__annotations__) == set(m.keys())
    assert judged | set(results.Together.__annotations__) == set(m.together.keys())
    assert m.together.zone70_ml > m.zone70_ml
