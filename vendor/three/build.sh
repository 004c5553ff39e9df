#!/usr/bin/env bash
# Rebuilds three.min.js, the three.js classes the HTML report's 3D view uses
# (listed in entry.js), as one minified script that defines the global THREE.
# Needs Node.js and the npm registry; the build of liverkit itself does not:
# three.min.js is committed. three.js is MIT-licensed (LICENSE here).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npx esbuild entry.js --bundle --minify --format=iife --global-name=THREE \
    --legal-comments=eof --outfile=three.min.js
if grep -q '</script' three.min.js; then
    echo "three.min.js contains </script: it cannot be inlined" >&2
    exit 1
fi
rm -rf node_modules
