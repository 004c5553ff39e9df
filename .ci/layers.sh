#!/usr/bin/env bash
# The module layers of docs/architecture.md, checked on the `crate::` paths
# of the code (comment lines are skipped, so doc links may point anywhere):
#   base: error, grid, volume, roi, progress, vocabulary -> nothing above them
#   io                                         -> base only
#   algorithms: volumetry, distance, morphology, remnant, margin, bioheat, render, planner
#                                              -> base only (never io, case, cli)
#   case                                       -> base, io, algorithms
#   cli (the binary), python (the bindings)    -> anything (they use `liverkit::`)
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() { # LAYER-NAME FORBIDDEN-REGEX FILES...
    local name=$1 forbidden=$2
    shift 2
    local hits
    hits=$(grep -nE "crate::($forbidden)\b" "$@" | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
    if [ -n "$hits" ]; then
        echo "layer violation: $name may not use crate::($forbidden):" >&2
        echo "$hits" >&2
        status=1
    fi
}
base="src/error.rs src/grid.rs src/volume.rs src/roi.rs src/progress.rs src/vocabulary.rs"
algorithms="volumetry|distance|morphology|remnant|margin|bioheat|render|planner"
# shellcheck disable=SC2086
check "base modules" "io|case|cli|$algorithms" $base
check "io" "case|cli|$algorithms" $(find src/io -name '*.rs')
for m in volumetry distance morphology remnant margin bioheat render planner; do
    check "algorithm module $m" "io|case|cli" $(find "src/$m" -name '*.rs')
done
check "case" "cli" $(find src/case -name '*.rs')
# distance and morphology: one direction only (morphology uses the EDT).
check "distance" "morphology" $(find src/distance -name '*.rs')
if [ "$status" = 0 ]; then echo "module layers: ok"; fi
exit "$status"
