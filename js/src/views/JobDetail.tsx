// One job in full: what went in, how it ran, what came out, and its timeline; the
// structure view below when the job has one. Live while the job runs (its host
// feeds new props). Data and actions come through props.
import { useState } from "react";
import { FileRow, type Preview, type ResultFile } from "./FileRow";
import { StatusBadge } from "./StatusBadge";
import { elapsedSeconds, formatCredits, formatDuration, formatTime, statusLabel } from "./format";
import { Provenance, type ProvenanceRecord } from "./Provenance";
import type { Job, Outcome } from "./types";
import { isTerminal } from "./types";
import { useNow } from "./useNow";

export type { Preview, ResultFile };

export interface JobInputItem {
  id: string;
  slotId: string;
  kind: string;
  format: string;
  content: string;
  label?: string;
}

export interface JobWithContents extends Job {
  input?: { inputs: JobInputItem[] };
  settings?: Record<string, unknown>;
  result?: { fields: Record<string, unknown>; rows: Record<string, unknown>[]; files: ResultFile[] } | null;
  provenance?: ProvenanceRecord;
}

export interface JobEvent {
  id: number;
  kind: string;
  status: string;
  data: Record<string, unknown>;
  created_at: string;
}

export interface JobDetailProps {
  job: JobWithContents;
  events: JobEvent[];
  /** Each input's full length in characters (the job may carry only the start). */
  inputLengths?: number[];
  link?: string | null;
  onPreview: (name: string) => Promise<Preview>;
  onDownload: (name: string) => Promise<Outcome>;
  onCancel?: () => Promise<Outcome>;
  /** Opens the batch the job belongs to, where the host has a batch view. */
  onOpenBatch?: (batchId: string) => void;
  /** The structure view, when the job has a structure. */
  structure?: React.ReactNode;
}

/** Rows of the results table shown at once. */
const ROWS_SHOWN = 50;

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

function KeyValues({ entries, label }: { entries: [string, unknown][]; label: string }): React.JSX.Element {
  if (entries.length === 0) return <p className="piq-muted">none</p>;
  return (
    <table className="piq-kv" aria-label={label}>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td>{text(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Rows({ rows }: { rows: Record<string, unknown>[] }): React.JSX.Element | null {
  const [all, setAll] = useState(false);
  if (rows.length === 0) return null;
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const shown = all ? rows : rows.slice(0, ROWS_SHOWN);
  return (
    <div className="piq-scroll">
      <table className="piq-grid" aria-label="Result rows">
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td key={c}>{text(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > shown.length && (
        <button
          type="button"
          className="piq-button"
          onClick={() => {
            setAll(true);
          }}
        >
          Show all {rows.length} rows
        </button>
      )}
    </div>
  );
}

function eventLine(event: JobEvent): string {
  const data = event.data;
  const parts: string[] = [];
  if (typeof data.progress === "number") parts.push(`${Math.round(data.progress * 100)}%`);
  if (typeof data.progress_message === "string" && data.progress_message !== "") parts.push(data.progress_message);
  if (typeof data.error === "string") parts.push(data.error);
  else if (typeof data.status_reason === "string") parts.push(data.status_reason);
  return parts.join(" · ");
}

export function JobDetail(props: JobDetailProps): React.JSX.Element {
  const { job, events } = props;
  const done = isTerminal(job.status);
  const now = useNow(!done);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const seconds = job.duration_s ?? elapsedSeconds(job.started_at, job.completed_at, now);
  const result = job.result ?? null;
  const inputs = job.input?.inputs ?? [];
  const settings = Object.entries(job.settings ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const cancel = (): void => {
    if (props.onCancel === undefined) return;
    void props.onCancel().then((answer) => {
      setCancelError(answer.ok ? null : (answer.error ?? "Not cancelled."));
    });
  };
  return (
    <article className="piq-view piq-detail" aria-label={`Job ${job.name}`} data-testid="job-detail">
      <header className="piq-row piq-spread">
        <div className="piq-row">
          <StatusBadge status={job.status} />
          <h3 className="piq-title piq-heading">{job.name}</h3>
          <span className="piq-muted">{job.tool}</span>
          <code className="piq-muted piq-small">{job.id}</code>
        </div>
        <div className="piq-row">
          {props.link != null && (
            <a className="piq-link" href={props.link} target="_blank" rel="noreferrer">
              Open job
            </a>
          )}
          {!done && props.onCancel !== undefined && job.permissions.change && (
            <button type="button" className="piq-button piq-danger" onClick={cancel}>
              Cancel job
            </button>
          )}
        </div>
      </header>
      {cancelError !== null && (
        <p role="alert" className="piq-error">
          {cancelError}
        </p>
      )}
      {!done && (
        <p className="piq-message" aria-live="polite">
          {Math.round(job.progress * 100)}%{job.progress_message ? ` · ${job.progress_message}` : ""}
        </p>
      )}
      {typeof job.error === "string" && job.error !== "" && (
        <p role="alert" className="piq-error">
          {job.error}
        </p>
      )}
      <dl className="piq-facts">
        <dt>Submitter</dt>
        <dd>{job.submitter.username ?? job.submitter.id}</dd>
        <dt>Credits</dt>
        <dd>
          {job.credits.charged === 0 && job.credits.estimated === 0
            ? "Free: this tool costs no credits"
            : `${formatCredits(job.credits.charged)} charged (${formatCredits(job.credits.estimated)} estimated)`}
        </dd>
        <dt>Execution time</dt>
        <dd data-testid="execution-time">{formatDuration(seconds)}</dd>
        <dt>Created</dt>
        <dd>{formatTime(job.created_at)}</dd>
        <dt>Completed</dt>
        <dd>{formatTime(job.completed_at)}</dd>
        <dt>Attempts</dt>
        <dd>{job.attempts}</dd>
        <dt>Visibility</dt>
        <dd>{job.visibility}</dd>
        {job.batch_id !== null && (
          <>
            <dt>Batch</dt>
            <dd>
              {props.onOpenBatch === undefined ? (
                <code>{job.batch_id}</code>
              ) : (
                <button
                  type="button"
                  className="piq-button"
                  onClick={() => {
                    if (job.batch_id !== null) props.onOpenBatch?.(job.batch_id);
                  }}
                >
                  Open its batch
                </button>
              )}
            </dd>
          </>
        )}
      </dl>
      {props.structure}
      <details open={result !== null}>
        <summary>Results</summary>
        {result === null ? (
          <p className="piq-muted">{done ? "No result." : "Not yet: the job is still running."}</p>
        ) : (
          <>
            <KeyValues label="Result fields" entries={Object.entries(result.fields)} />
            <Rows rows={result.rows} />
          </>
        )}
      </details>
      <details open={result !== null && result.files.length > 0}>
        <summary>Files ({result?.files.length ?? 0})</summary>
        <ul className="piq-files">
          {(result?.files ?? []).map((file) => (
            <FileRow
              key={file.name}
              file={file}
              onPreview={() => props.onPreview(file.name)}
              onDownload={() => props.onDownload(file.name)}
            />
          ))}
        </ul>
      </details>
      <details>
        <summary>Inputs ({inputs.length})</summary>
        {inputs.map((item, i) => {
          const length = props.inputLengths?.[i] ?? item.content.length;
          return (
            <div key={item.id}>
              <p className="piq-small">
                <strong>{item.label ?? item.slotId}</strong> ({item.kind}, {item.format}, {length.toLocaleString()}{" "}
                characters{length > item.content.length ? `; the first ${item.content.length.toLocaleString()} shown` : ""})
              </p>
              <pre className="piq-pre" tabIndex={0} aria-label={`Input ${item.label ?? item.slotId}`}>
                {item.content}
              </pre>
            </div>
          );
        })}
      </details>
      <details>
        <summary>Settings</summary>
        <KeyValues label="Settings" entries={settings} />
      </details>
      {job.provenance !== undefined && (
        <details>
          <summary>Provenance</summary>
          <Provenance record={job.provenance} />
        </details>
      )}
      <details open={!done}>
        <summary>Timeline ({events.length})</summary>
        <ol className="piq-timeline" aria-label="Event timeline">
          {events.map((event) => (
            <li key={event.id}>
              <time dateTime={event.created_at}>{formatTime(event.created_at)}</time>{" "}
              <strong>{event.kind}</strong> {statusLabel(event.status)}
              {eventLine(event) !== "" ? ` · ${eventLine(event)}` : ""}
            </li>
          ))}
        </ol>
      </details>
    </article>
  );
}
