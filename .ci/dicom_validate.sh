#!/usr/bin/env bash
# Writes the DICOM objects liverkit makes (SEGs standalone, on a DICOM mask
# series, of a LAS NIfTI on its LPS CT, of the remnant, the margin shortfall
# and a simulation; the SR of every command) and runs dciodvfy (Debian's dicom3tools) on each:
# fails on any line dciodvfy reports as an Error. Needs `cargo build
# --release` first and dciodvfy on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
LK=target/release/liverkit
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
S=testdata/sample_case/pre_pve.nii.gz
$LK target "$S" --out "$OUT/target.dcm" --sr "$OUT/target_sr.dcm" >/dev/null 2>&1
$LK --mask-series target testdata/mask_series/liver --tumor testdata/mask_series/spleen \
    --liver testdata/mask_series/liver --out "$OUT/mask_series.dcm" --sr "$OUT/mask_series_sr.dcm" >/dev/null 2>&1
$LK target testdata/totalsegmentator/example_seg_dicom.nii.gz --tumor 1 --liver 5 --margin-mm 5 \
    --reference testdata/totalsegmentator/example_ct_dicom --out "$OUT/las_on_ct.dcm" >/dev/null 2>&1
$LK remnant "$S" --resection right-hepatectomy --out "$OUT/remnant.dcm" --sr "$OUT/remnant_sr.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
$LK margin --tumor "$S:liver_tumor" --zone testdata/sample_case/ablation_zone.nii.gz \
    --margin-map "$OUT/margin.dcm" --sr "$OUT/margin_sr.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
$LK volumes "$S" --sr "$OUT/volumes_sr.dcm" >/dev/null 2>&1
$LK pve "$S" testdata/sample_case/post_pve.nii.gz --resection right-hepatectomy --days 28 \
    --sr "$OUT/pve_sr.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
$LK simulate "$S" --applicator mwa --power-w 50 --time-s 600 --tip 70,-30,-45 --direction 0,0,-1 \
    --spacing-mm 2 --seg "$OUT/simulate.dcm" --sr "$OUT/simulate_sr.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
status=0
for f in "$OUT"/*.dcm; do
    report=$(dciodvfy "$f" 2>&1 || true)
    errors=$(grep -c '^Error' <<<"$report" || true)
    warnings=$(grep -c '^Warning' <<<"$report" || true)
    echo "$(basename "$f"): $errors error(s), $warnings warning(s)"
    if [ "$errors" -gt 0 ]; then
        grep '^Error' <<<"$report" >&2
        status=1
    fi
done
exit $status
