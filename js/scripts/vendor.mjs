// Copies the 3D viewer from the npm package into proteiniq_jupyter/static/vendor/,
// so pages and widgets load it from the server, never a CDN.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(repo, "package.json"));
const build = join(dirname(require.resolve("3dmol/package.json")), "build");
const vendor = join(repo, "proteiniq_jupyter", "static", "vendor");
mkdirSync(vendor, { recursive: true });
for (const name of ["3Dmol-min.js", "3Dmol-min.js.LICENSE.txt"]) {
  copyFileSync(join(build, name), join(vendor, name));
}
console.log(`3Dmol.js copied to ${vendor}`);
