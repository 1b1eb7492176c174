// Bundles the page with esbuild: src/index.jsx -> OUTDIR/index.js.gz + OUTDIR/index.css.gz.
// Fonts and images PatternFly's CSS refers to are inlined (Cockpit's policy allows data:
// fonts and images), so the bundle is exactly these two files. They are stored
// compressed, as Debian's Cockpit packages are: cockpit-bridge serves index.js from
// index.js.gz (2.7 MB shrink to 0.6 MB on disk and on the wire).
//   node build.mjs OUTDIR NODE_MODULES
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const [outdir, nodeModules] = process.argv.slice(2);
if (!outdir || !nodeModules) {
    console.error("usage: node build.mjs OUTDIR NODE_MODULES");
    process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
// The packages live in the build directory (build.sh), not beside the sources.
const esbuild = createRequire(path.join(path.resolve(nodeModules), "_"))("esbuild");

const result = await esbuild.build({
    entryPoints: { index: path.join(here, "src", "index.jsx") },
    outdir,
    bundle: true,
    minify: true,
    sourcemap: false,
    format: "iife",
    target: ["es2020"],
    jsx: "automatic",
    nodePaths: [nodeModules],
    define: { "process.env.NODE_ENV": '"production"' },
    loader: { ".woff2": "dataurl", ".woff": "dataurl", ".svg": "dataurl", ".png": "dataurl", ".jpg": "dataurl" },
    legalComments: "none",
    logLevel: "warning",
    write: false,
});
for (const output of result.outputFiles)
    fs.writeFileSync(output.path + ".gz", zlib.gzipSync(output.contents, { level: 9 }));
