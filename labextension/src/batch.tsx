// A batch in the main area: the shared BatchView over the batch and its children,
// read over REST and kept live by the workspace's event stream. A batch the reader
// may not see says "not found".
import { MainAreaWidget } from "@jupyterlab/apputils";
import { ReactWidget } from "@jupyterlab/ui-components";
import { BatchView, type Batch, type Job } from "@proteiniq/views";
import { useEffect, useState } from "react";
import { ApiError, outcomeOf, type PiqApi } from "./api";
import { applyEvent, type EventHub, type LiveEvent } from "./events";

type Loaded = { batch: Batch; jobs: Job[] } | { missing: string } | null;

interface BatchHostProps {
  api: PiqApi;
  hub: EventHub;
  batchId: string;
  openJob: (id: string) => void;
  onTitle: (name: string) => void;
}

function BatchHost({ api, hub, batchId, openJob, onTitle }: BatchHostProps): React.JSX.Element {
  const [loaded, setLoaded] = useState<Loaded>(null);
  const [reread, setReread] = useState(0);

  useEffect(() => {
    let live = true;
    let batch: Batch | null = null;
    let rows = new Map<string, Job>();
    // One change at a time, in the order the events came: a slow read never
    // overwrites what a later event brought.
    let queue: Promise<void> = Promise.resolve();
    const then = (work: () => Promise<void>): void => {
      queue = queue.then(work).catch((problem: unknown) => {
        if (!live) return;
        const status = problem instanceof ApiError ? problem.status : 0;
        const missing = status === 404 || status === 403;
        setLoaded({
          missing: missing ? `Batch ${batchId} not found.` : `Batch ${batchId} could not be read: ${outcomeOf(problem).error}`,
        });
      });
    };
    const show = (): void => {
      if (!live || batch === null) return;
      const order = batch.job_ids;
      const jobs = order.map((id) => rows.get(id)).filter((job): job is Job => job !== undefined);
      setLoaded({ batch, jobs });
    };
    const readAll = async (): Promise<void> => {
      const [read, jobs] = await Promise.all([api.batch(batchId), api.batchJobs(batchId)]);
      batch = read;
      rows = new Map(jobs.map((job) => [job.id, job]));
      onTitle(read.name);
      show();
    };
    /** The batch's counts and credits again, and any child a retry added. */
    const readBatch = async (): Promise<void> => {
      const read = await api.batch(batchId);
      const added = read.job_ids.filter((id) => !rows.has(id));
      for (const job of await Promise.all(added.map((id) => api.job(id)))) rows.set(job.id, job);
      batch = read;
      show();
    };
    then(readAll);

    const onEvent = (_: unknown, event: LiveEvent): void => {
      const row = rows.get(event.job_id);
      if (row === undefined) {
        if (event.kind === "created" && batch !== null) then(readBatch);
        return;
      }
      if (event.kind === "progress") {
        rows.set(row.id, applyEvent(row, event));
        show();
        return;
      }
      then(async () => {
        rows.set(row.id, await api.job(row.id));
        await readBatch();
      });
    };
    const onConnection = (_: unknown, open: boolean): void => {
      if (open) then(readAll);
    };
    hub.event.connect(onEvent);
    hub.connected.connect(onConnection);
    return () => {
      live = false;
      hub.event.disconnect(onEvent);
      hub.connected.disconnect(onConnection);
    };
  }, [api, hub, batchId, onTitle, reread]);

  if (loaded === null) {
    return (
      <p className="piq-muted" role="status">
        Loading batch {batchId}…
      </p>
    );
  }
  if ("missing" in loaded) {
    return (
      <p role="alert" className="piq-error">
        {loaded.missing}
      </p>
    );
  }
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setReread((n) => n + 1);
      return { ok: true, error: null };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  return (
    <BatchView
      batch={loaded.batch}
      jobs={loaded.jobs}
      onRetryFailed={() => act(() => api.retryFailed(batchId))}
      onCancel={() => act(() => api.cancelBatch(batchId))}
      onOpen={(job) => {
        openJob(job.id);
      }}
    />
  );
}

export class BatchDetailWidget extends MainAreaWidget<ReactWidget> {
  constructor(api: PiqApi, hub: EventHub, readonly batchId: string, openJob: (id: string) => void) {
    const titled: { widget: BatchDetailWidget | null } = { widget: null };
    const onTitle = (name: string): void => {
      if (titled.widget !== null) titled.widget.title.label = name;
    };
    const content = ReactWidget.create(
      <BatchHost api={api} hub={hub} batchId={batchId} openJob={openJob} onTitle={onTitle} />,
    );
    super({ content });
    titled.widget = this;
    this.id = `proteiniq-batch-${batchId}`;
    this.title.label = batchId;
    this.title.closable = true;
    this.addClass("piq-lab-detail");
  }
}
