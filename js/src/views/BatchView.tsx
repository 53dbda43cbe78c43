// A batch: its progress and counts, the credits it reserved and spent, each
// child's status and progress, a retry of the children that failed and a cancel
// of the rest. Data comes through props and callbacks only (the notebook widget
// and the lab extension feed the same view).
import { useId, useState } from "react";
import { StatusBadge } from "./StatusBadge";
import { formatCredits, statusLabel } from "./format";
import type { Batch } from "./formTypes";
import type { Job, JobStatus, Outcome } from "./types";
import { isTerminal } from "./types";

export interface BatchViewProps {
  batch: Batch;
  jobs: Job[];
  onRetryFailed: () => Promise<Outcome>;
  onCancel: () => Promise<Outcome>;
  /** Opens a child's job, where the host can: its name becomes a link. */
  onOpen?: ((job: Job) => void) | undefined;
}

/** Statuses a retry of the failed children runs again. */
const RETRYABLE: readonly JobStatus[] = ["FAILED", "TIMEOUT", "CANCELLED"];

/** Children a retry would run again: failed ones not re-run already. */
export function retryable(jobs: Job[]): Job[] {
  const rerun = new Set(jobs.map((job) => job.origin_job_id));
  return jobs.filter((job) => RETRYABLE.includes(job.status) && !rerun.has(job.id));
}

function percent(fraction: number): number {
  return Math.round(Math.min(1, Math.max(0, fraction)) * 100);
}

export function BatchView({ batch, jobs, onRetryFailed, onCancel, onOpen }: BatchViewProps): React.JSX.Element {
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const failed = retryable(jobs);
  const active = jobs.some((job) => !isTerminal(job.status));
  const counts = Object.entries(batch.counts).filter(([, n]) => n > 0);
  const done = percent(batch.progress);
  const run = (action: () => Promise<Outcome>): void => {
    setBusy(true);
    setError(null);
    void action().then((outcome) => {
      setBusy(false);
      if (!outcome.ok) setError(outcome.error ?? "The batch could not be changed.");
    });
  };
  return (
    <section className="piq-view piq-batch" aria-labelledby={`${id}-title`} data-testid="piq-batch">
      <div className="piq-row piq-spread">
        <div className="piq-row">
          <strong id={`${id}-title`} className="piq-title">
            {batch.name}
          </strong>
          <span className="piq-muted">
            {batch.tool}, {batch.total} jobs
          </span>
        </div>
        <span className="piq-badge" data-testid="piq-batch-status" data-status={batch.status}>
          {statusLabel(batch.status)}
        </span>
      </div>
      <div
        className="piq-bar"
        role="progressbar"
        aria-label="Batch progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={done}
      >
        <div className="piq-bar-fill" style={{ width: `${String(done)}%` }} />
      </div>
      <div className="piq-row piq-spread piq-small">
        <span data-testid="piq-batch-counts">
          {done}% · {counts.map(([status, n]) => `${String(n)} ${statusLabel(status)}`).join(", ")}
        </span>
        <span data-testid="piq-batch-credits">
          {formatCredits(batch.reserved_credits)} reserved, {formatCredits(batch.credits_charged)}{" "}
          spent
        </span>
      </div>
      <div className="piq-row">
        <button
          type="button"
          className="piq-button"
          data-testid="piq-batch-retry"
          disabled={busy || failed.length === 0}
          onClick={() => {
            run(onRetryFailed);
          }}
        >
          Retry {failed.length} failed
        </button>
        <button
          type="button"
          className="piq-button piq-danger"
          data-testid="piq-batch-cancel"
          disabled={busy || !active}
          onClick={() => {
            run(onCancel);
          }}
        >
          Cancel the rest
        </button>
      </div>
      {error !== null ? (
        <p className="piq-error" role="alert" data-testid="piq-batch-error">
          {error}
        </p>
      ) : null}
      <table className="piq-table">
        <caption className="piq-muted piq-small">Jobs of the batch</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Credits</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => {
            const jobPercent = percent(job.progress);
            const note = job.error ?? job.status_reason ?? job.progress_message;
            return (
              <tr key={job.id} data-testid="piq-batch-child" data-job-id={job.id}>
                <td>
                  {onOpen === undefined ? (
                    job.name
                  ) : (
                    <a
                      className="piq-job-link"
                      href="#"
                      onClick={(event) => {
                        event.preventDefault();
                        onOpen(job);
                      }}
                    >
                      {job.name}
                    </a>
                  )}
                </td>
                <td data-testid="piq-batch-child-status">
                  <StatusBadge status={job.status} />
                </td>
                <td>
                  <div className="piq-row">
                    <div
                      className="piq-bar piq-grow"
                      role="progressbar"
                      aria-label={`Progress of ${job.name}`}
                      aria-valuemin={0}
                      aria-valuemax={100}
                      aria-valuenow={jobPercent}
                    >
                      <div
                        className={`piq-bar-fill piq-status-${job.status.toLowerCase()}`}
                        style={{ width: `${String(jobPercent)}%` }}
                      />
                    </div>
                    <span>{jobPercent}%</span>
                  </div>
                  {note !== null ? (
                    <small className="piq-muted">{note}</small>
                  ) : null}
                </td>
                <td>
                  {job.credits.charged > 0
                    ? `${formatCredits(job.credits.charged)} spent`
                    : isTerminal(job.status)
                      ? "nothing charged"
                      : `${formatCredits(job.credits.estimated)} held`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
