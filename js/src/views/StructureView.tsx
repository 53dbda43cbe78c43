// A job's structures in 3D: the model or pose selector, the pLDDT legend, the
// surface and stick toggles, downloads. Its data comes through props: the widget
// feeds it from its model, the lab extension from the REST API.
import { useEffect, useRef, useState } from "react";
import { SceneDrawing, type ThreeDmol } from "./structure/draw";
import { PLDDT_BANDS } from "./structure/plddt";
import { formatAffinity, poseRecords, type StructureScene } from "./structure/scene";
import { StatusBadge } from "./StatusBadge";
import type { Job } from "./types";

export type { StructureScene } from "./structure/scene";

export interface StructureChoice {
  modelIndex: number;
  pose: number;
  surface: boolean;
  sticks: boolean;
}

export interface StructureViewProps {
  job: Pick<Job, "id" | "name" | "tool" | "status" | "progress_message"> | null;
  scene: StructureScene | null;
  /** Why nothing can be drawn. */
  error?: string | null;
  choice: StructureChoice;
  onChoice: (change: Partial<StructureChoice>) => void;
  /** The text of each of the scene's files, by name. */
  loadFiles: (scene: StructureScene) => Promise<Map<string, string>>;
  /** 3Dmol.js, loaded once per page. */
  loadViewer: () => Promise<ThreeDmol>;
  /** Saves text as a file (the host decides how). */
  save: (filename: string, text: string, mime: string) => void;
  /** Height of the canvas in pixels. */
  height?: number;
}

function themeBackground(element: HTMLElement): string {
  const value = getComputedStyle(element).getPropertyValue("--jp-layout-color0").trim();
  return value === "" ? "white" : value;
}

export function StructureView(props: StructureViewProps): React.JSX.Element {
  const { job, scene, choice, onChoice, loadFiles, loadViewer, save } = props;
  const canvas = useRef<HTMLDivElement>(null);
  const drawing = useRef<SceneDrawing | null>(null);
  const [texts, setTexts] = useState<Map<string, string> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [rendered, setRendered] = useState(false);

  // The files and the viewer, once per scene.
  useEffect(() => {
    const element = canvas.current;
    if (scene === null || element === null) return;
    let cancelled = false;
    setRendered(false);
    setProblem(null);
    Promise.all([loadFiles(scene), loadViewer()])
      .then(([files, lib]) => {
        if (cancelled) return;
        drawing.current?.dispose();
        drawing.current = new SceneDrawing(lib, element, scene, files, themeBackground(element));
        setTexts(files);
      })
      .catch((error: unknown) => {
        if (!cancelled) setProblem(error instanceof Error ? error.message : String(error));
      });
    return () => {
      cancelled = true;
    };
  }, [scene, loadFiles, loadViewer]);

  // Every change of what is chosen redraws.
  useEffect(() => {
    const current = drawing.current;
    if (current === null || texts === null) return;
    let cancelled = false;
    setRendered(false);
    current
      .draw(choice)
      .then(() => {
        if (!cancelled) setRendered(true);
      })
      .catch((error: unknown) => {
        if (!cancelled) setProblem(error instanceof Error ? error.message : String(error));
      });
    return () => {
      cancelled = true;
    };
  }, [texts, choice]);

  useEffect(() => {
    const element = canvas.current;
    if (element === null || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => drawing.current?.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, []);

  // JupyterLab marks its theme on the body: a change of theme repaints the canvas.
  useEffect(() => {
    const element = canvas.current;
    if (element === null || typeof MutationObserver === "undefined") return;
    const observer = new MutationObserver(() => drawing.current?.setBackground(themeBackground(element)));
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light"] });
    return () => {
      observer.disconnect();
    };
  }, []);

  useEffect(() => () => drawing.current?.dispose(), []);

  const structure = scene?.structures[choice.modelIndex] ?? scene?.structures[0];
  const pose = scene?.poses.find((p) => p.rank === choice.pose);
  const docking = scene !== null && scene.poses_file !== null;
  const id = job?.id ?? "job";

  const downloadShown = (): void => {
    if (texts === null || structure === undefined) return;
    const text = texts.get(structure.name);
    if (text !== undefined) save(structure.name, text, "chemical/x-pdb");
  };
  const downloadPose = (): void => {
    if (texts === null || scene?.poses_file == null || pose === undefined) return;
    const text = texts.get(scene.poses_file);
    if (text !== undefined) save(`${id}_pose_${pose.rank}.sdf`, poseRecords(text, pose.rank), "chemical/x-mdl-sdfile");
  };
  const downloadImage = (): void => {
    const uri = drawing.current?.png();
    if (uri === undefined) return;
    const link = document.createElement("a");
    link.href = uri;
    link.download = `${id}.png`;
    link.click();
  };

  const waiting = scene === null && (props.error ?? null) === null;
  return (
    <section className="piq-view piq-structure" aria-label={`Structure of ${job?.name ?? "the job"}`}>
      {job !== null && (
        <div className="piq-row">
          <StatusBadge status={job.status} />
          <strong className="piq-title">{job.name}</strong>
          <span className="piq-muted">{job.tool}</span>
        </div>
      )}
      {scene !== null && (
        <div className="piq-row piq-structure-controls">
          {scene.structures.length > 1 && (
            <label className="piq-row">
              Model
              <select
                className="piq-select"
                value={choice.modelIndex}
                onChange={(e) => {
                  onChoice({ modelIndex: Number(e.target.value) });
                }}
              >
                {scene.structures.map((s, i) => (
                  <option key={s.name} value={i}>
                    {s.label}
                  </option>
                ))}
              </select>
            </label>
          )}
          {docking && (
            <label className="piq-row">
              Pose
              <select
                className="piq-select"
                data-testid="pose-select"
                value={choice.pose}
                onChange={(e) => {
                  onChoice({ pose: Number(e.target.value) });
                }}
              >
                {scene.poses.map((p) => (
                  <option key={p.rank} value={p.rank}>
                    {`Pose ${p.rank}: ${formatAffinity(p.affinity)}${p.ligand ? ` (${p.ligand})` : ""}`}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="piq-row">
            <input
              type="checkbox"
              checked={choice.surface}
              onChange={(e) => {
                onChoice({ surface: e.target.checked });
              }}
            />
            Surface
          </label>
          <label className="piq-row">
            <input
              type="checkbox"
              checked={choice.sticks}
              onChange={(e) => {
                onChoice({ sticks: e.target.checked });
              }}
            />
            {docking ? "Pocket sticks" : "Sticks"}
          </label>
          <button type="button" className="piq-button" onClick={downloadShown} disabled={texts === null}>
            {docking ? "Download receptor" : "Download structure"}
          </button>
          {docking && (
            <button type="button" className="piq-button" onClick={downloadPose} disabled={texts === null}>
              Download pose (SDF)
            </button>
          )}
          <button type="button" className="piq-button" onClick={downloadImage} disabled={!rendered}>
            Save image
          </button>
        </div>
      )}
      <div
        ref={canvas}
        className="piq-structure-canvas"
        data-testid="structure-canvas"
        data-rendered={rendered ? "true" : "false"}
        data-model={structure?.name ?? ""}
        data-pose={docking ? String(choice.pose) : ""}
        role="img"
        aria-label={
          structure === undefined
            ? "No structure yet"
            : docking && pose !== undefined
              ? `${structure.label} with docked pose ${pose.rank}, affinity ${formatAffinity(pose.affinity)}`
              : structure.label
        }
        style={{ height: `${props.height ?? 420}px`, display: scene === null ? "none" : "block" }}
      />
      {scene?.colour === "plddt" && (
        <ul className="piq-legend" aria-label="pLDDT colours">
          {PLDDT_BANDS.map((band) => (
            <li key={band.from}>
              <span className="piq-swatch" style={{ background: band.colour }} aria-hidden="true" />
              {band.label}
            </li>
          ))}
        </ul>
      )}
      {docking && pose !== undefined && (
        <p className="piq-small" aria-live="polite" data-testid="pose-affinity">
          Pose {pose.rank} of {scene.poses.length}: affinity {formatAffinity(pose.affinity)}; ligand carbons in green.
        </p>
      )}
      {waiting && (
        <p className="piq-muted" aria-live="polite">
          {job === null ? "Loading…" : `Waiting for the job to complete (${job.status.toLowerCase()})${job.progress_message ? `: ${job.progress_message}` : ""}.`}
        </p>
      )}
      {(props.error ?? problem) !== null && (
        <p role="alert" className="piq-error">
          {props.error ?? problem}
        </p>
      )}
    </section>
  );
}
