#!/bin/sh
# Builds the Cockpit page into OUTDIR (meson runs this; see docs/web.md):
#   1. npm ci into OUTDIR/npm from the committed package.json and package-lock.json, only
#      when the lock file changed since the last run (the source tree stays clean);
#   2. esbuild (build.mjs) bundles src/ into OUTDIR/index.js and OUTDIR/index.css.
#   web/build.sh OUTDIR
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=$1
npm_dir=$out/npm
mkdir -p "$npm_dir"
if ! cmp -s "$src/package-lock.json" "$npm_dir/installed-package-lock.json" || [ ! -d "$npm_dir/node_modules" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$npm_dir/"
  # --ignore-scripts: nothing here needs an install script (esbuild finds its binary
  # through its optional dependency), and npm 11 refuses unapproved ones anyway.
  npm ci --prefix "$npm_dir" --ignore-scripts --no-audit --no-fund --loglevel=error
  cp "$src/package-lock.json" "$npm_dir/installed-package-lock.json"
fi
node "$src/build.mjs" "$out" "$npm_dir/node_modules"
