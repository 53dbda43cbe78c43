// Where this page's Jupyter server is: the base URL in the page's Jupyter config
// (JupyterLab, Notebook 7); null on a page with none (VS Code, a static export).
export function pageBaseUrl(): string | null {
  const config = document.getElementById("jupyter-config-data");
  if (config?.textContent == null) return null;
  try {
    const data = JSON.parse(config.textContent) as { baseUrl?: unknown };
    return typeof data.baseUrl === "string" ? data.baseUrl : null;
  } catch {
    return null;
  }
}

/** The absolute URL of a file the server extension serves (under static/proteiniq/). */
export function servedUrl(base: string, path: string): string {
  return new URL(`${base.replace(/\/?$/, "/")}static/proteiniq/${path}`, document.baseURI).href;
}
