// The Jobs panel: the shared JobTable over the workspace's history, a page at a time
// through the server's cursor, its rows kept live by the event stream (no polling).
import { ReactWidget } from "@jupyterlab/ui-components";
import {
  DEFAULT_SORT,
  JobTable,
  downloadFile,
  isTerminal,
  type Filters,
  type Job,
  type Outcome,
  type RowAction,
  type Sort,
} from "@proteiniq/views";
import { useCallback, useEffect, useRef, useState } from "react";
import { outcomeOf, type PiqApi } from "./api";
import { PanelBatches } from "./batches";
import { applyEvent, type EventHub, type LiveEvent } from "./events";

export const PAGE_SIZE = 50;
/** Events this close together are followed by one read of the page. */
const RELOAD_MS = 250;

export interface PanelHost {
  api: PiqApi;
  hub: EventHub;
  openJob: (id: string) => void;
  openShare: (job: Job) => void;
  openDuplicate: (job: Job) => void;
  openBatch: (id: string) => void;
  openFiles: () => void;
}

function JobsPanelView({ host }: { host: PanelHost }): React.JSX.Element {
  const { api, hub } = host;
  const [filters, setFilters] = useState<Filters>({ tool: "", status: [], search: "" });
  const [rows, setRows] = useState<Job[]>([]);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [next, setNext] = useState<string | null>(null);
  const [tools, setTools] = useState<string[]>([]);
  const [sort, setSort] = useState<Sort>(DEFAULT_SORT);
  const [error, setError] = useState<string | null>(null);
  const state = useRef({ filters, cursors, sort });
  useEffect(() => {
    state.current = { filters, cursors, sort };
  }, [filters, cursors, sort]);

  const latest = useRef(0);

  // A page of the whole history in `order`; a cursor belongs to the order it was read in.
  // The last read asked for wins: a reload that a job's event started before a click
  // on a header, and that answers after it, must not bring the old order back.
  const load = useCallback(
    async (wanted: Filters, stack: (string | null)[], order: Sort = state.current.sort): Promise<Outcome> => {
      const ticket = ++latest.current;
      state.current = { filters: wanted, cursors: stack, sort: order };
      try {
        const page = await api.jobs(wanted, order, stack[stack.length - 1] ?? null, PAGE_SIZE);
        if (ticket !== latest.current) return { ok: true, error: null };
        setFilters(wanted);
        setSort(order);
        setCursors(stack);
        setRows(page.data);
        setNext(page.has_more ? page.next_cursor : null);
        setError(null);
        return { ok: true, error: null };
      } catch (problem) {
        return ticket === latest.current ? outcomeOf(problem) : { ok: true, error: null };
      }
    },
    [api],
  );

  const reload = useCallback((): void => {
    void load(state.current.filters, state.current.cursors);
  }, [load]);

  useEffect(() => {
    void load(state.current.filters, [null]).then((outcome) => {
      if (!outcome.ok) setError(outcome.error);
    });
    void api.tools().then(setTools, () => undefined);
  }, [api, load]);

  const shown = useRef<Job[]>(rows);
  useEffect(() => {
    shown.current = rows;
  }, [rows]);

  useEffect(() => {
    // One read of the page for a burst of events (a notebook's ten jobs ending).
    let timer: number | null = null;
    const reloadSoon = (): void => {
      if (timer !== null) return;
      timer = window.setTimeout(() => {
        timer = null;
        reload();
      }, RELOAD_MS);
    };
    const onEvent = (_: unknown, event: LiveEvent): void => {
      const onFirstPage = state.current.cursors.length === 1;
      if (event.kind === "created" || event.kind === "deleted") {
        if (onFirstPage || event.kind === "deleted") reloadSoon();
        return;
      }
      if (!shown.current.some((job) => job.id === event.job_id)) return;
      setRows((current) => current.map((job) => (job.id === event.job_id ? applyEvent(job, event) : job)));
      // A finished job's duration and charge come from the job itself.
      if (event.kind === "status" && isTerminal(event.status as Job["status"])) reloadSoon();
    };
    // After a reconnect the stream replays what was missed; a re-read covers what it cannot (deletions).
    const onConnection = (_: unknown, open: boolean): void => {
      if (open) reload();
    };
    hub.event.connect(onEvent);
    hub.connected.connect(onConnection);
    return () => {
      if (timer !== null) window.clearTimeout(timer);
      hub.event.disconnect(onEvent);
      hub.connected.disconnect(onConnection);
    };
  }, [hub, reload]);

  const onRow = async (job: Job, action: RowAction): Promise<Outcome> => {
    try {
      switch (action.action) {
        case "rename": {
          const renamed = await api.rename(job.id, action.name);
          setRows((current) => current.map((row) => (row.id === job.id ? { ...row, name: renamed.name } : row)));
          return { ok: true, error: null };
        }
        case "delete":
          await api.remove(job.id);
          setRows((current) => current.filter((row) => row.id !== job.id));
          return { ok: true, error: null };
        case "retry": {
          const retried = await api.act(job.id, "retry");
          host.openJob(retried.id);
          return { ok: true, error: null };
        }
        case "duplicate": {
          const copy = await api.act(job.id, "duplicate");
          host.openJob(copy.id);
          return { ok: true, error: null };
        }
        case "export": {
          const text = await api.exportText(job.id, action.format);
          const mime = action.format === "csv" ? "text/csv" : "application/json";
          downloadFile(`${job.id}.${action.format}`, text, mime);
          return { ok: true, error: null };
        }
        case "share":
          await api.setShare(job.id, { visibility: action.visibility });
          return { ok: true, error: null };
        case "link":
          return { ok: true, error: null, link: api.labLink(job.id) };
      }
    } catch (problem) {
      return outcomeOf(problem);
    }
  };

  return (
    <div className="piq-lab-panel">
      {error !== null && (
        <p role="alert" className="piq-error">
          Jobs could not be read: {error}
        </p>
      )}
      <div className="piq-row piq-lab-panel-tools">
        <button type="button" className="piq-button" onClick={host.openFiles}>
          All files
        </button>
      </div>
      <PanelBatches api={api} hub={hub} openBatch={host.openBatch} />
      <JobTable
        rows={rows}
        page={cursors.length - 1}
        hasMore={next !== null}
        filters={filters}
        tools={tools}
        sort={sort}
        onSort={(order) => load(filters, [null], order)}
        onFilters={(wanted) => load(wanted, [null])}
        onPage={(to) => {
          if (to === "first") return load(filters, [null]);
          if (to === "previous") return load(filters, cursors.slice(0, -1));
          return load(filters, [...cursors, next]);
        }}
        onRow={onRow}
        onShareDialog={host.openShare}
        onDuplicateDialog={host.openDuplicate}
        onOpen={(job) => {
          host.openJob(job.id);
        }}
        linkFor={(job) => api.labLink(job.id)}
      />
    </div>
  );
}

export class JobsPanel extends ReactWidget {
  constructor(private readonly host: PanelHost) {
    super();
    this.id = "proteiniq-jobs";
    this.addClass("piq-lab-jobs");
  }

  protected render(): React.JSX.Element {
    return <JobsPanelView host={this.host} />;
  }
}
