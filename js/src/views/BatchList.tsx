// The workspace's batches, newest first: each batch's name (a link to its detail),
// its status in words and how many of its jobs are done. Data comes through props.
import { statusLabel } from "./format";
import type { Batch } from "./formTypes";

export interface BatchListProps {
  batches: Batch[];
  hasMore: boolean;
  onMore: () => void;
  onOpen: (batch: Batch) => void;
}

/** Jobs of a batch that have ended, whatever their ending. */
function ended(batch: Batch): number {
  const live = ["PENDING", "QUEUED", "PROCESSING", "RETRY"];
  return Object.entries(batch.counts)
    .filter(([status]) => !live.includes(status))
    .reduce((sum, [, n]) => sum + n, 0);
}

export function BatchList({ batches, hasMore, onMore, onOpen }: BatchListProps): React.JSX.Element {
  if (batches.length === 0) return <p className="piq-muted piq-small">No batches yet.</p>;
  return (
    <>
      <ul className="piq-batch-list" aria-label="Batches">
        {batches.map((batch) => (
          <li key={batch.id} className="piq-row" data-batch={batch.id}>
            <a
              className="piq-job-link"
              href="#"
              onClick={(event) => {
                event.preventDefault();
                onOpen(batch);
              }}
            >
              {batch.name}
            </a>
            <span className="piq-badge" data-status={batch.status}>
              {statusLabel(batch.status)}
            </span>
            <span className="piq-muted piq-small">
              {ended(batch)} of {batch.total} done · {batch.tool}
            </span>
          </li>
        ))}
      </ul>
      {hasMore && (
        <button type="button" className="piq-button" onClick={onMore}>
          More batches
        </button>
      )}
    </>
  );
}
