// The Files view in the main area: the shared FileList over the workspace's files
// (uploads and the outputs of the jobs the reader may see), a page at a time
// through the server's cursor; a new output or a deleted job shows on the first page.
import { MainAreaWidget } from "@jupyterlab/apputils";
import { ReactWidget, folderIcon } from "@jupyterlab/ui-components";
import { FileList, type FileFilters, type FileRecord, type Outcome, type PageTurn, type Preview } from "@proteiniq/views";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, outcomeOf, saveBlob, type PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";

export const FILES_PAGE_SIZE = 25;

function FilesHost(props: { api: PiqApi; hub: EventHub; openJob: (id: string) => void }): React.JSX.Element {
  const { api, hub, openJob } = props;
  const [filters, setFilters] = useState<FileFilters>({ search: "", format: "", origin: "" });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [files, setFiles] = useState<FileRecord[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [jobNames, setJobNames] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const state = useRef({ filters, cursors, jobNames });
  useEffect(() => {
    state.current = { filters, cursors, jobNames };
  }, [filters, cursors, jobNames]);

  /** The names of the page's jobs not read yet (a job gone since says its id). */
  const name = useCallback(
    async (page: FileRecord[]): Promise<void> => {
      const known = state.current.jobNames;
      const wanted = [...new Set(page.map((file) => file.job_id))].filter(
        (id): id is string => id !== null && !(id in known),
      );
      const read = await Promise.all(
        wanted.map((id) =>
          api.job(id).then(
            (job): [string, string] => [id, job.name],
            (): [string, string] => [id, id],
          ),
        ),
      );
      if (read.length > 0) setJobNames((current) => ({ ...current, ...Object.fromEntries(read) }));
    },
    [api],
  );

  const load = useCallback(
    async (wanted: FileFilters, stack: (string | null)[]): Promise<Outcome> => {
      try {
        const page = await api.files(wanted, stack[stack.length - 1] ?? null, FILES_PAGE_SIZE);
        setFilters(wanted);
        setCursors(stack);
        setFiles(page.data);
        setNext(page.has_more ? page.next_cursor : null);
        setError(null);
        void name(page.data);
        return { ok: true, error: null };
      } catch (problem) {
        return outcomeOf(problem);
      }
    },
    [api, name],
  );

  useEffect(() => {
    void load(state.current.filters, [null]).then((outcome) => {
      if (!outcome.ok) setError(outcome.error);
    });
  }, [load]);

  useEffect(() => {
    const onFirstPage = (): void => {
      if (state.current.cursors.length === 1) void load(state.current.filters, [null]);
    };
    // A job's outputs are saved when it ends; a deleted job takes its files along.
    const onEvent = (_: unknown, event: LiveEvent): void => {
      if (event.kind === "deleted" || (event.kind === "status" && ["COMPLETED", "FAILED"].includes(event.status))) {
        onFirstPage();
      }
    };
    const onConnection = (_: unknown, open: boolean): void => {
      if (open) onFirstPage();
    };
    hub.event.connect(onEvent);
    hub.connected.connect(onConnection);
    return () => {
      hub.event.disconnect(onEvent);
      hub.connected.disconnect(onConnection);
    };
  }, [hub, load]);

  const preview = async (file: FileRecord): Promise<Preview> => {
    try {
      const read = await api.filePreview(file.id);
      return { ok: true, error: null, text: read.text, truncated: read.truncated };
    } catch (problem) {
      // The server previews text formats only; anything else is for download.
      if (problem instanceof ApiError && problem.status === 400) return { ok: true, error: null, binary: true };
      return outcomeOf(problem);
    }
  };
  const download = async (file: FileRecord): Promise<Outcome> => {
    try {
      saveBlob(file.name, await api.fileBlob(file.id));
      return { ok: true, error: null };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  const turn = (to: PageTurn): Promise<Outcome> => {
    if (to === "first") return load(filters, [null]);
    if (to === "previous") return load(filters, cursors.slice(0, -1));
    return load(filters, [...cursors, next]);
  };

  return (
    <div className="piq-lab-files">
      {error !== null && (
        <p role="alert" className="piq-error">
          Files could not be read: {error}
        </p>
      )}
      <FileList
        files={files}
        page={cursors.length - 1}
        hasMore={next !== null}
        filters={filters}
        onFilters={(wanted) => load(wanted, [null])}
        onPage={turn}
        onPreview={preview}
        onDownload={download}
        jobNames={jobNames}
        onOpenJob={openJob}
      />
    </div>
  );
}

export class FilesWidget extends MainAreaWidget<ReactWidget> {
  constructor(api: PiqApi, hub: EventHub, openJob: (id: string) => void) {
    super({ content: ReactWidget.create(<FilesHost api={api} hub={hub} openJob={openJob} />) });
    this.id = "proteiniq-files";
    this.title.label = "Files";
    this.title.icon = folderIcon;
    this.title.closable = true;
    this.addClass("piq-lab-detail");
  }
}
