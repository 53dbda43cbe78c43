// 3Dmol.js, loaded once per page and never part of a widget's saved state. In
// order: one already on the page; the copy the Jupyter server extension serves
// ({base_url}static/proteiniq/vendor/3Dmol-min.js, the base URL from the page's
// Jupyter config, else the path the kernel gave); else the kernel sends the same
// bundled file once (hosts with no Jupyter server, such as VS Code). No CDN.
import type { AnyModel } from "@anywidget/types";
import type { ThreeDmol } from "../views/structure/draw";
import { callAction } from "./actions";
import { pageBaseUrl, servedUrl } from "./page";

declare global {
  interface Window {
    $3Dmol?: ThreeDmol;
    __proteiniq3Dmol?: Promise<ThreeDmol>;
  }
}

const VIEWER_PATH = "vendor/3Dmol-min.js";

function addScript(src: string): Promise<ThreeDmol> {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.dataset.proteiniq = "3dmol";
    script.onload = () => {
      if (window.$3Dmol !== undefined) resolve(window.$3Dmol);
      else reject(new Error("3Dmol.js loaded but did not start"));
    };
    script.onerror = () => {
      script.remove();
      reject(new Error(`could not load ${src}`));
    };
    document.head.appendChild(script);
  });
}

async function fromKernel(model: AnyModel): Promise<ThreeDmol> {
  const reply = await callAction(model, "viewer_script");
  if (!reply.ok || typeof reply.script !== "string") {
    throw new Error(reply.error ?? "the kernel did not send the 3D viewer");
  }
  const url = URL.createObjectURL(new Blob([reply.script], { type: "text/javascript" }));
  try {
    return await addScript(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function load(model: AnyModel, servedPath: string | null): Promise<ThreeDmol> {
  const urls: string[] = [];
  const base = pageBaseUrl();
  if (base !== null) urls.push(servedUrl(base, VIEWER_PATH));
  if (servedPath !== null) urls.push(new URL(servedPath, document.baseURI).href);
  for (const url of new Set(urls)) {
    try {
      return await addScript(url);
    } catch {
      // the next way
    }
  }
  return fromKernel(model);
}

/** 3Dmol.js for this page: the first view to ask loads it, the others share it. */
export function load3Dmol(model: AnyModel, servedPath: string | null): Promise<ThreeDmol> {
  if (window.$3Dmol !== undefined) return Promise.resolve(window.$3Dmol);
  if (window.__proteiniq3Dmol === undefined) {
    const loading = load(model, servedPath);
    window.__proteiniq3Dmol = loading;
    // A failed load (a kernel not running yet) may be tried again by the next view.
    loading.catch(() => {
      if (window.__proteiniq3Dmol === loading) delete window.__proteiniq3Dmol;
    });
  }
  return window.__proteiniq3Dmol;
}
