// Bundles every widget entry point in src/widgets/*.tsx into
// proteiniq_jupyter/static/widgets/<name>.js, one ES module each (anywidget's `_esm`).
// Adding a widget never edits this script. `--watch` rebuilds on change.
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const widgets = join(root, "src", "widgets");
const outdir = resolve(root, "..", "proteiniq_jupyter", "static", "widgets");
const require = createRequire(join(root, "package.json"));

const entryPoints = readdirSync(widgets)
  .filter((name) => name.endsWith(".tsx") && !name.startsWith("_"))
  .map((name) => join(widgets, name));
if (entryPoints.length === 0) throw new Error(`no widget entry points in ${widgets}`);

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints,
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "external",
  jsx: "automatic",
  loader: { ".css": "text" },
  define: { "process.env.NODE_ENV": '"production"' },
  // One React in every bundle, whichever workspace package a file comes from.
  alias: {
    react: dirname(require.resolve("react/package.json")),
    "react-dom": dirname(require.resolve("react-dom/package.json")),
  },
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
