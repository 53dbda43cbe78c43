// A job's 3D structure in its detail: the shared StructureView over the scene the
// server derives (GET jobs/{id}/scene) and the job's files, with 3Dmol.js loaded once
// per page from the server extension's copy (never a CDN).
import { URLExt } from "@jupyterlab/coreutils";
import { StructureView, downloadFile, type Job, type StructureChoice, type StructureScene, type ThreeDmol } from "@proteiniq/views";
import { useCallback, useEffect, useState } from "react";
import { outcomeOf, type PiqApi } from "./api";

declare global {
  interface Window {
    $3Dmol?: ThreeDmol;
    __proteiniq3Dmol?: Promise<ThreeDmol>;
  }
}

const VIEWER_PATH = "static/proteiniq/vendor/3Dmol-min.js";

/** 3Dmol.js for this page: the first view to ask loads it, the others share it. */
export function load3Dmol(api: PiqApi): Promise<ThreeDmol> {
  if (window.$3Dmol !== undefined) return Promise.resolve(window.$3Dmol);
  window.__proteiniq3Dmol ??= new Promise<ThreeDmol>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = URLExt.join(api.settings.baseUrl, VIEWER_PATH);
    script.async = true;
    script.dataset.proteiniq = "3dmol";
    script.onload = () => {
      if (window.$3Dmol !== undefined) resolve(window.$3Dmol);
      else reject(new Error("3Dmol.js loaded but did not start"));
    };
    script.onerror = () => {
      script.remove();
      delete window.__proteiniq3Dmol;
      reject(new Error("could not load the 3D viewer"));
    };
    document.head.appendChild(script);
  });
  return window.__proteiniq3Dmol;
}

export interface JobStructureProps {
  api: PiqApi;
  job: Pick<Job, "id" | "name" | "tool" | "status" | "progress_message">;
}

/** The job's structure, or nothing when its result draws none. */
export function JobStructure({ api, job }: JobStructureProps): React.JSX.Element | null {
  const [scene, setScene] = useState<StructureScene | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [choice, setChoice] = useState<StructureChoice>({ modelIndex: 0, pose: 1, surface: false, sticks: false });
  const finished = job.status === "COMPLETED";
  useEffect(() => {
    if (!finished) return;
    void api.json<StructureScene | null>(`jobs/${encodeURIComponent(job.id)}/scene`).then(
      (found) => {
        setScene(found);
        if (found?.poses[0] !== undefined) setChoice((c) => ({ ...c, pose: found.poses[0]?.rank ?? 1 }));
      },
      (problem: unknown) => {
        setError(outcomeOf(problem).error);
      },
    );
  }, [api, job.id, finished]);
  const loadFiles = useCallback(
    async (shown: StructureScene): Promise<Map<string, string>> => {
      const names = shown.structures.map((s) => s.name);
      if (shown.poses_file !== null) names.push(shown.poses_file);
      const texts = await Promise.all(names.map(async (name) => (await api.file(job.id, name)).text()));
      return new Map(names.map((name, i) => [name, texts[i] ?? ""]));
    },
    [api, job.id],
  );
  const loadViewer = useCallback(() => load3Dmol(api), [api]);
  if (scene === null && error === null) return null;
  return (
    <StructureView
      job={job}
      scene={scene}
      error={error}
      choice={choice}
      onChoice={(change) => {
        setChoice((c) => ({ ...c, ...change }));
      }}
      loadFiles={loadFiles}
      loadViewer={loadViewer}
      save={downloadFile}
    />
  );
}
