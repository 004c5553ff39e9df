#!/usr/bin/env bash
# Opens each HTML report liverkit writes for the README sample commands in
# headless Chromium (Debian's `chromium`), and fails on a console error, on a
# slice image that did not decode, on a blank or missing 3D view (WebGL
# through Chromium's software renderer), or on a page that loads anything
# from outside itself. Saves a screenshot of each under $OUT (default
# target/report-screens) for a look.
#
#     bash .ci/report_browser.sh            # after `cargo build --release`
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LIVERKIT:-target/release/liverkit}
OUT=${OUT:-target/report-screens}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
    echo "chromium is not installed (apt-get install chromium)" >&2
    exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
S=testdata/sample_case
CT=testdata/totalsegmentator
# Each report: the command (exit 0 or 1: a clinical "no" still writes it).
run() { "$BIN" "$@" >/dev/null 2>&1 || [ $? -eq 1 ]; }
run volumes $CT/example_seg.nii.gz --image $CT/example_ct_sm.nii.gz --report "$OUT/volumes.html"
run remnant $S/pre_pve.nii.gz --resection right-hepatectomy --height-cm 175 --weight-kg 75 --report "$OUT/remnant.html"
run pve $S/pre_pve.nii.gz $S/post_pve.nii.gz --resection right-hepatectomy --height-cm 175 --weight-kg 75 --days 28 \
    --report "$OUT/pve.html"
run target $S/pre_pve.nii.gz --report "$OUT/target.html"
run margin --tumor $S/pre_pve.nii.gz:liver_tumor --zone $S/ablation_zone.nii.gz --report "$OUT/margin.html"
run simulate $S/pre_pve.nii.gz --applicator mwa --power-w 50 --time-s 600 --tip 70,-30,-45 --direction 0,0,-1 \
    --report "$OUT/simulate.html"
run remnant $CT/example_seg_dicom.nii.gz --liver 5 --plane 95,165,-785:1,0,0 --image $CT/example_ct_dicom \
    --report "$OUT/remnant_ct.html"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
    --disable-component-update --disable-sync --hide-scrollbars --virtual-time-budget=5000)
status=0
for page in "$OUT"/*.html; do
    name=$(basename "$page" .html)
    profile=$(mktemp -d)
    url="file://$(realpath "$page")"
    # Anything fetched from outside the page itself is a failure: the
    # report must open offline.
    if grep -Eq '(src|href)="(https?:|//|/|\.\./)' "$page"; then
        echo "FAIL $name: the page refers to an outside file" >&2
        status=1
    fi
    dom=$("$CHROMIUM" "${flags[@]}" --user-data-dir="$profile" --enable-logging=stderr --v=0 \
        --dump-dom "$url" 2>"$OUT/$name.console.log" || true)
    "$CHROMIUM" "${flags[@]}" --user-data-dir="$profile" --window-size=1100,1700 \
        --screenshot="$OUT/$name.png" "$url" >/dev/null 2>&1 || true
    rm -rf "$profile"
    images=$(printf '%s' "$dom" | grep -o 'data-images="[0-9]*/[0-9]*"' | head -1 | cut -d'"' -f2)
    if grep -E 'CONSOLE|Uncaught' "$OUT/$name.console.log" | grep -qiE 'error|uncaught'; then
        echo "FAIL $name: console error" >&2
        grep -E 'CONSOLE|Uncaught' "$OUT/$name.console.log" >&2
        status=1
    fi
    case "$images" in
        "") echo "FAIL $name: the page did not finish loading" >&2; status=1 ;;
        0/0) [ "$name" = pve ] || { echo "FAIL $name: no slice image" >&2; status=1; } ;;
        *)
            if [ "${images%/*}" != "${images#*/}" ]; then
                echo "FAIL $name: a slice image did not decode ($images)" >&2
                status=1
            fi ;;
    esac
    # The 3D view marks the page data-canvas="drawn N" once it has drawn N
    # non-white pixels of a thumbnail; "blank" or "no-webgl" otherwise.
    canvas=$(printf '%s' "$dom" | grep -o 'data-canvas="[^"]*"' | head -1 | cut -d'"' -f2)
    case "$canvas" in
        "drawn "*) ;;
        *) echo "FAIL $name: the 3D view was not drawn (${canvas:-no mark})" >&2; status=1 ;;
    esac
    if [ ! -s "$OUT/$name.png" ]; then
        echo "FAIL $name: no screenshot" >&2
        status=1
    fi
    echo "$name: images $images, 3D ${canvas:-none}, $(du -k "$page" | cut -f1) kB"
done
if [ "$status" = 0 ]; then echo "reports in the browser: ok"; fi
exit "$status"
