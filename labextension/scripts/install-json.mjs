// The extension's install.json (how JupyterLab says it was installed) goes into the
// built extension, so that the package ships it with the rest of the folder: one
// copy, whether the build is fresh or runs again over an earlier one.
import { copyFileSync } from "node:fs";

copyFileSync("../install.json", "../proteiniq_jupyter/labextension/install.json");
