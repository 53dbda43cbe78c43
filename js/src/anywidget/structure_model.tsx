// The structure view fed from a StructureView widget's model (its own, or the one
// a JobDetail holds).
import type { AnyModel } from "@anywidget/types";
import { useCallback, useEffect, useMemo, useState } from "react";
import { StructureView, type StructureChoice } from "../views/StructureView";
import type { StructureScene } from "../views/structure/scene";
import type { Job } from "../views/types";
import { downloadFile } from "../views/RowMenu";
import { readStructures, type Compressed } from "./structures";
import { load3Dmol } from "./viewer";

/** The traits of a StructureView widget (proteiniq_jupyter.widgets.structure). */
export interface StructureTraits {
  /** Empty until the kernel has read the job. */
  job: Job | { id?: undefined };
  scene: StructureScene | null;
  structures: Compressed;
  error: string | null;
  viewer_url: string | null;
  model_index: number;
  pose: number;
  surface: boolean;
  sticks: boolean;
}

export function useTrait<K extends keyof StructureTraits>(
  model: AnyModel<StructureTraits>,
  name: K,
): StructureTraits[K] {
  const [value, setValue] = useState(() => model.get(name));
  useEffect(() => {
    const update = (): void => {
      setValue(model.get(name));
    };
    update();
    model.on(`change:${name}`, update);
    return () => {
      model.off(`change:${name}`, update);
    };
  }, [model, name]);
  return value;
}

export function StructureFromModel({ model }: { model: AnyModel<StructureTraits> }): React.JSX.Element {
  const job = useTrait(model, "job");
  const scene = useTrait(model, "scene");
  const files = useTrait(model, "structures");
  const error = useTrait(model, "error");
  const viewerUrl = useTrait(model, "viewer_url");
  const modelIndex = useTrait(model, "model_index");
  const pose = useTrait(model, "pose");
  const surface = useTrait(model, "surface");
  const sticks = useTrait(model, "sticks");
  const choice = useMemo(() => ({ modelIndex, pose, surface, sticks }), [modelIndex, pose, surface, sticks]);
  const onChoice = useCallback(
    (change: Partial<StructureChoice>) => {
      if (change.modelIndex !== undefined) model.set("model_index", change.modelIndex);
      if (change.pose !== undefined) model.set("pose", change.pose);
      if (change.surface !== undefined) model.set("surface", change.surface);
      if (change.sticks !== undefined) model.set("sticks", change.sticks);
      model.save_changes();
    },
    [model],
  );
  const loadFiles = useCallback((s: StructureScene) => readStructures(s, files), [files]);
  const loadViewer = useCallback(() => load3Dmol(model as unknown as AnyModel, viewerUrl), [model, viewerUrl]);
  return (
    <StructureView
      job={job.id === undefined ? null : job}
      scene={scene}
      error={error}
      choice={choice}
      onChoice={onChoice}
      loadFiles={loadFiles}
      loadViewer={loadViewer}
      save={downloadFile}
    />
  );
}
