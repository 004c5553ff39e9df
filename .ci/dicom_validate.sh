#!/usr/bin/env bash
# Writes the DICOM objects liverkit makes (SEG standalone, SEG on a DICOM
# mask series, SEG of a LAS NIfTI on its LPS CT, SEG of the remnant and of
# the margin shortfall) and runs dciodvfy (Debian's dicom3tools) on each:
# fails on any line dciodvfy reports as an Error. Needs `cargo build
# --release` first and dciodvfy on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
LK=target/release/liverkit
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
S=testdata/sample_case/pre_pve.nii.gz
$LK target "$S" --out "$OUT/target.dcm" >/dev/null 2>&1
$LK --mask-series target testdata/mask_series/liver --tumor testdata/mask_series/spleen \
    --liver testdata/mask_series/liver --out "$OUT/mask_series.dcm" >/dev/null
$LK target testdata/totalsegmentator/example_seg_dicom.nii.gz --tumor 1 --liver 5 --margin-mm 5 \
    --reference testdata/totalsegmentator/example_ct_dicom --out "$OUT/las_on_ct.dcm" >/dev/null
$LK remnant "$S" --resection right-hepatectomy --out "$OUT/remnant.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
$LK margin --tumor "$S:liver_tumor" --zone testdata/sample_case/ablation_zone.nii.gz \
    --margin-map "$OUT/margin.dcm" >/dev/null 2>&1 || [ $? -eq 1 ]
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
