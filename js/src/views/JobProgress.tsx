// A job while it runs: status in words, a percent bar, elapsed time, the tool's
// latest message, and a cancel button that says what happens to the credits.
import { useState } from "react";
import { ConfirmButton } from "./ConfirmButton";
import { StatusBadge } from "./StatusBadge";
import { elapsedSeconds, formatCredits, formatDuration } from "./format";
import type { Job, Outcome } from "./types";
import { isTerminal } from "./types";
import { useNow } from "./useNow";

export interface JobProgressProps {
  job: Job;
  /** Where the job's page is, when there is one. */
  link?: string | null;
  onCancel?: () => Promise<Outcome>;
}

/** What cancelling does to the job's credits, said before it is done. */
export function cancelConsequence(job: Job): string {
  if (job.credits.charged > 0) {
    return `It has started: the ${formatCredits(job.credits.charged)} charged are kept (a cancelled job is not refunded).`;
  }
  if (job.credits.estimated > 0) {
    return `It has not started: its hold of ${formatCredits(job.credits.estimated)} is released and nothing is charged.`;
  }
  return "It costs no credits.";
}

export function JobProgress({ job, link, onCancel }: JobProgressProps): React.JSX.Element {
  const done = isTerminal(job.status);
  const now = useNow(!done);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const percent = Math.round(Math.min(1, Math.max(0, job.progress)) * 100);
  const elapsed = elapsedSeconds(job.started_at, job.completed_at, now);
  const message = done ? (job.error ?? job.status_reason ?? job.progress_message) : job.progress_message;
  const cancel = (): void => {
    if (onCancel === undefined) return;
    setBusy(true);
    setError(null);
    void onCancel().then((outcome) => {
      setBusy(false);
      if (!outcome.ok) setError(outcome.error ?? "The job could not be cancelled.");
    });
  };
  return (
    <section className="piq-view piq-progress" aria-label={`Job ${job.name}`}>
      <div className="piq-row piq-spread">
        <div className="piq-row">
          <StatusBadge status={job.status} />
          <strong className="piq-title">{job.name}</strong>
          <span className="piq-muted">{job.tool}</span>
        </div>
        <div className="piq-row">
          {link !== undefined && link !== null && (
            <a className="piq-link" href={link} target="_blank" rel="noreferrer">
              Open job
            </a>
          )}
          {!done && onCancel !== undefined && job.permissions.change && (
            <ConfirmButton
              label={busy ? "Cancelling…" : "Cancel"}
              disabled={busy}
              question={`Cancel ${job.name}?`}
              detail={cancelConsequence(job)}
              confirmLabel="Cancel the job"
              keepLabel="Keep running"
              danger
              onConfirm={cancel}
            />
          )}
        </div>
      </div>
      <div
        className="piq-bar"
        role="progressbar"
        aria-label="Progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}%${job.progress_estimated === true ? " (estimated)" : ""}`}
      >
        <div className={`piq-bar-fill piq-status-${job.status.toLowerCase()}`} style={{ width: `${percent}%` }} />
      </div>
      <div className="piq-row piq-spread piq-small">
        <span>
          {percent}%{job.progress_estimated === true ? " (estimated)" : ""}
          {!done && job.eta_seconds !== undefined && job.eta_seconds !== null
            ? ` · about ${formatDuration(job.eta_seconds)} left`
            : ""}
        </span>
        <span>
          <span className="piq-muted">Elapsed </span>
          <span data-testid="elapsed">{formatDuration(elapsed)}</span>
        </span>
      </div>
      <p className="piq-message" aria-live="polite">
        {message ?? ""}
      </p>
      {error !== null && (
        <p role="alert" className="piq-error">
          {error}
        </p>
      )}
    </section>
  );
}
