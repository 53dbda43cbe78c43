// A job in the main area: the shared JobDetail, read over REST and kept live by the
// workspace's event stream. A job the reader may not see says "not found".
import { MainAreaWidget } from "@jupyterlab/apputils";
import { ReactWidget } from "@jupyterlab/ui-components";
import { JobDetail, type JobEvent, type JobWithContents, type Outcome, type Preview } from "@proteiniq/views";
import { useEffect, useState } from "react";
import { ApiError, outcomeOf, saveBlob, type PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";
import { JobStructure } from "./structure";

/** How much of a file a preview shows. */
const PREVIEW_BYTES = 200_000;

type Loaded = { job: JobWithContents; events: JobEvent[] } | { missing: string } | null;

interface DetailViewProps {
  api: PiqApi;
  hub: EventHub;
  jobId: string;
  onTitle: (name: string) => void;
  openBatch: (id: string) => void;
}

function DetailView(props: DetailViewProps): React.JSX.Element {
  const { api, hub, jobId, onTitle, openBatch } = props;
  const [loaded, setLoaded] = useState<Loaded>(null);

  useEffect(() => {
    let live = true;
    const read = async (): Promise<void> => {
      try {
        const [job, events] = await Promise.all([api.job(jobId), api.timeline(jobId)]);
        if (!live) return;
        setLoaded({ job, events });
        onTitle(job.name);
      } catch (problem) {
        if (!live) return;
        const status = problem instanceof ApiError ? problem.status : 0;
        setLoaded({
          missing: status === 404 || status === 403 ? `Job ${jobId} not found.` : `Job ${jobId} could not be read: ${outcomeOf(problem).error}`,
        });
      }
    };
    void read();
    const onEvent = (_: unknown, event: LiveEvent): void => {
      if (event.job_id === jobId) void read();
    };
    hub.event.connect(onEvent);
    return () => {
      live = false;
      hub.event.disconnect(onEvent);
    };
  }, [api, hub, jobId, onTitle]);

  if (loaded === null) return <p className="piq-muted" role="status">Loading job {jobId}…</p>;
  if ("missing" in loaded) {
    return (
      <p role="alert" className="piq-error">
        {loaded.missing}
      </p>
    );
  }
  const preview = async (name: string): Promise<Preview> => {
    try {
      const blob = await (await api.file(jobId, name)).blob();
      const head = new Uint8Array(await blob.slice(0, 4096).arrayBuffer());
      if (head.includes(0)) return { ok: true, error: null, binary: true };
      return { ok: true, error: null, text: await blob.slice(0, PREVIEW_BYTES).text(), truncated: blob.size > PREVIEW_BYTES };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  const download = async (name: string): Promise<Outcome> => {
    try {
      saveBlob(name, await (await api.file(jobId, name)).blob());
      return { ok: true, error: null };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  return (
    <JobDetail
      job={loaded.job}
      events={loaded.events}
      link={api.labLink(jobId)}
      onPreview={preview}
      onDownload={download}
      structure={<JobStructure api={api} job={loaded.job} />}
      onOpenBatch={openBatch}
      onCancel={async () => {
        try {
          await api.act(jobId, "cancel");
          return { ok: true, error: null };
        } catch (problem) {
          return outcomeOf(problem);
        }
      }}
    />
  );
}

export class JobDetailWidget extends MainAreaWidget<ReactWidget> {
  constructor(api: PiqApi, hub: EventHub, readonly jobId: string, openBatch: (id: string) => void) {
    const titled: { widget: JobDetailWidget | null } = { widget: null };
    const content = ReactWidget.create(
      <DetailView
        api={api}
        hub={hub}
        jobId={jobId}
        openBatch={openBatch}
        onTitle={(name) => {
          if (titled.widget !== null) titled.widget.title.label = name;
        }}
      />,
    );
    super({ content });
    titled.widget = this;
    this.id = `proteiniq-job-${jobId}`;
    this.title.label = jobId;
    this.title.closable = true;
    this.addClass("piq-lab-detail");
  }
}
