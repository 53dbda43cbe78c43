// The workspace's files across its jobs (uploads and the outputs of the jobs the
// reader may see), newest first, a page at a time: a search by name, a format and
// an origin filter, each file with its preview and download. The host reads the
// pages and the files.
import { useEffect, useRef, useState } from "react";
import { FileRow, type Preview } from "./FileRow";
import { Pager, type PageTurn } from "./Pager";
import { formatTime } from "./format";
import type { Outcome } from "./types";

/** A file as the API lists it (``api.FileRecord``). */
export interface FileRecord {
  id: string;
  object: "file";
  name: string;
  format: string;
  content_type: string;
  size: number;
  origin: string;
  job_id: string | null;
  owner_id: string;
  created_at: string;
}

export interface FileFilters {
  search: string;
  format: string;
  origin: string;
}

export interface FileListProps {
  files: FileRecord[];
  page: number;
  hasMore: boolean;
  filters: FileFilters;
  onFilters: (filters: FileFilters) => Promise<Outcome>;
  onPage: (to: PageTurn) => Promise<Outcome>;
  onPreview: (file: FileRecord) => Promise<Preview>;
  onDownload: (file: FileRecord) => Promise<Outcome>;
  /** The name of each file's job the host has read (by job id). */
  jobNames?: Record<string, string> | undefined;
  /** Opens a file's job, where the host can: its name becomes a link. */
  onOpenJob?: ((jobId: string) => void) | undefined;
}

export const FILE_ORIGINS: { value: string; label: string }[] = [
  { value: "", label: "Any origin" },
  { value: "JOB_OUTPUT", label: "Job outputs" },
  { value: "UPLOAD", label: "Uploads" },
  { value: "JOB_INPUT", label: "Job inputs" },
  { value: "IMPORT", label: "Imports" },
];

function originLabel(origin: string): string {
  return FILE_ORIGINS.find((o) => o.value === origin)?.label.replace(/s$/, "").toLowerCase() ?? origin;
}

function FileSource(props: {
  file: FileRecord;
  jobNames?: Record<string, string> | undefined;
  onOpenJob?: ((jobId: string) => void) | undefined;
}): React.JSX.Element {
  const { file, jobNames, onOpenJob } = props;
  const jobId = file.job_id;
  const when = formatTime(file.created_at);
  if (jobId === null) {
    return (
      <span className="piq-muted piq-small" data-testid="piq-file-source">
        {originLabel(file.origin)}, {when}
      </span>
    );
  }
  const name = jobNames?.[jobId] ?? jobId;
  return (
    <span className="piq-muted piq-small" data-testid="piq-file-source">
      {originLabel(file.origin)} of{" "}
      {onOpenJob === undefined ? (
        name
      ) : (
        <a
          className="piq-job-link"
          href="#"
          onClick={(event) => {
            event.preventDefault();
            onOpenJob(jobId);
          }}
        >
          {name}
        </a>
      )}
      , {when}
    </span>
  );
}

export function FileList(props: FileListProps): React.JSX.Element {
  const { filters, onFilters } = props;
  const [search, setSearch] = useState(filters.search);
  const [format, setFormat] = useState(filters.format);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const sent = useRef({ search: filters.search, format: filters.format });

  const run = (work: Promise<Outcome>): void => {
    setBusy(true);
    setError(null);
    void work.then((outcome) => {
      setBusy(false);
      if (!outcome.ok) setError(outcome.error ?? "The files could not be read.");
    });
  };

  // Typing settles for 300 ms before the search and format go out.
  useEffect(() => {
    if (search === sent.current.search && format === sent.current.format) return;
    const timer = window.setTimeout(() => {
      sent.current = { search, format };
      run(onFilters({ ...filters, search, format: format.trim().toLowerCase() }));
    }, 300);
    return () => {
      window.clearTimeout(timer);
    };
    // The filters they go with are the current ones.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search, format]);

  return (
    <section className="piq-view piq-file-list" aria-label="Files" data-testid="piq-files">
      <div className="piq-row" role="search">
        <label className="piq-row">
          <span>Search</span>
          <input
            className="piq-input"
            type="search"
            value={search}
            placeholder="File name"
            onChange={(event) => {
              setSearch(event.target.value);
            }}
          />
        </label>
        <label className="piq-row">
          <span>Format</span>
          <input
            className="piq-input piq-narrow"
            type="text"
            value={format}
            placeholder="pdb, sdf…"
            onChange={(event) => {
              setFormat(event.target.value);
            }}
          />
        </label>
        <label className="piq-row">
          <span>Origin</span>
          <select
            className="piq-select"
            value={filters.origin}
            onChange={(event) => {
              run(onFilters({ ...filters, origin: event.target.value }));
            }}
          >
            {FILE_ORIGINS.map((origin) => (
              <option key={origin.value} value={origin.value}>
                {origin.label}
              </option>
            ))}
          </select>
        </label>
        {busy && (
          <span className="piq-muted" role="status">
            Loading…
          </span>
        )}
      </div>
      {error !== null && (
        <p role="alert" className="piq-error">
          {error}
        </p>
      )}
      {props.files.length === 0 ? (
        <p className="piq-muted">No files match.</p>
      ) : (
        <ul className="piq-files" aria-label={`Files, page ${String(props.page + 1)}`}>
          {props.files.map((file) => (
            <FileRow
              key={file.id}
              file={file}
              onPreview={() => props.onPreview(file)}
              onDownload={() => props.onDownload(file)}
              extra={<FileSource file={file} jobNames={props.jobNames} onOpenJob={props.onOpenJob} />}
            />
          ))}
        </ul>
      )}
      <Pager
        page={props.page}
        hasMore={props.hasMore}
        busy={busy}
        label="Pages of files"
        onPage={(to) => {
          run(props.onPage(to));
        }}
      />
    </section>
  );
}
