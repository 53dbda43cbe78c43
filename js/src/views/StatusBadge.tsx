// A job's status as a word with a symbol and colour: never colour alone.
import type { JobStatus } from "./types";
import { statusLabel } from "./format";

const SYMBOL: Record<JobStatus, string> = {
  PENDING: "○",
  QUEUED: "◔",
  PROCESSING: "◑",
  RETRY: "↻",
  COMPLETED: "✓",
  FAILED: "✕",
  CANCELLED: "⊘",
  TIMEOUT: "⧗",
  BUDGET_EXCEEDED: "¤",
};

export function StatusBadge({ status }: { status: JobStatus }): React.JSX.Element {
  return (
    <span className={`piq-badge piq-status-${status.toLowerCase()}`} data-status={status}>
      <span aria-hidden="true">{SYMBOL[status]} </span>
      {statusLabel(status)}
    </span>
  );
}
