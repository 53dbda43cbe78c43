// JobDetail: one job in full, live while it runs, with its structure view.
import { useModel, useModelState } from "@anywidget/react";
import type { AnyModel } from "@anywidget/types";
import { useEffect, useState } from "react";
import { useCall } from "../anywidget/actions";
import { downloadFile } from "../views/RowMenu";
import { widget } from "../anywidget/render";
import { StructureFromModel, type StructureTraits } from "../anywidget/structure_model";
import { JobDetail, type JobEvent, type JobWithContents } from "../views/JobDetail";

const PREFIX = "IPY_MODEL_";

/** The model of a child widget the trait refers to. */
function useChild(reference: string | null): AnyModel<StructureTraits> | null {
  const model = useModel();
  const [found, setFound] = useState<{ reference: string; model: AnyModel<StructureTraits> } | null>(null);
  useEffect(() => {
    if (reference === null || !reference.startsWith(PREFIX)) return;
    let cancelled = false;
    void model.widget_manager.get_model<StructureTraits>(reference.slice(PREFIX.length)).then((child) => {
      if (!cancelled) setFound({ reference, model: child });
    });
    return () => {
      cancelled = true;
    };
  }, [model, reference]);
  return found !== null && found.reference === reference ? found.model : null;
}

/** Saves a file the kernel sent as text or base64. */
function save(name: string, answer: Record<string, unknown>): void {
  const type = typeof answer.content_type === "string" ? answer.content_type : "application/octet-stream";
  if (typeof answer.text === "string") {
    downloadFile(name, answer.text, type);
    return;
  }
  const raw = typeof answer.base64 === "string" ? atob(answer.base64) : "";
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  window.setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}

function JobDetailWidget(): React.JSX.Element {
  const [job] = useModelState<JobWithContents>("job");
  const [events] = useModelState<JobEvent[]>("events");
  const [inputLengths] = useModelState<number[]>("input_lengths");
  const [link] = useModelState<string | null>("link");
  const [structure] = useModelState<string | null>("structure");
  const child = useChild(structure);
  const call = useCall();
  return (
    <JobDetail
      job={job}
      events={events}
      inputLengths={inputLengths}
      link={link}
      onPreview={(name) => call("file", { name, preview: true })}
      onDownload={async (name) => {
        const answer = await call("file", { name, preview: false });
        if (answer.ok) save(name, answer);
        return answer;
      }}
      onCancel={() => call("cancel")}
      structure={child === null ? undefined : <StructureFromModel model={child} />}
    />
  );
}

export default widget(JobDetailWidget);
