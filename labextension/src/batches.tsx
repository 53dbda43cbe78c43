// The Jobs panel's batches: the workspace's batches (its history lists their jobs
// only inside them), newest first, read again when a job is created or moves, so a
// batch's status and count stay live; each opens the batch's detail.
import { BatchList, type Batch } from "@proteiniq/views";
import { useCallback, useEffect, useRef, useState } from "react";
import { outcomeOf, type PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";

export const BATCH_PAGE_SIZE = 5;
/** Events close together are read as one change. */
const SETTLE_MS = 300;

export function PanelBatches(props: { api: PiqApi; hub: EventHub; openBatch: (id: string) => void }): React.JSX.Element {
  const { api, hub, openBatch } = props;
  const [batches, setBatches] = useState<Batch[]>([]);
  const [shown, setShown] = useState(BATCH_PAGE_SIZE);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const wanted = useRef(shown);
  useEffect(() => {
    wanted.current = shown;
  }, [shown]);

  const read = useCallback(async (): Promise<void> => {
    try {
      const page = await api.batches(null, Math.min(wanted.current, 100));
      setBatches(page.data);
      setMore(page.has_more);
      setError(null);
    } catch (problem) {
      setError(outcomeOf(problem).error);
    }
  }, [api]);

  useEffect(() => {
    void read();
  }, [read, shown]);

  useEffect(() => {
    let timer: number | null = null;
    const later = (): void => {
      if (timer !== null) window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        timer = null;
        void read();
      }, SETTLE_MS);
    };
    const onEvent = (_: unknown, event: LiveEvent): void => {
      if (event.kind === "created" || event.kind === "status" || event.kind === "deleted") later();
    };
    const onConnection = (_: unknown, open: boolean): void => {
      if (open) later();
    };
    hub.event.connect(onEvent);
    hub.connected.connect(onConnection);
    return () => {
      if (timer !== null) window.clearTimeout(timer);
      hub.event.disconnect(onEvent);
      hub.connected.disconnect(onConnection);
    };
  }, [hub, read]);

  return (
    <details className="piq-lab-batches" open={batches.length > 0}>
      <summary>Batches</summary>
      {error !== null && (
        <p role="alert" className="piq-error">
          Batches could not be read: {error}
        </p>
      )}
      <BatchList
        batches={batches}
        hasMore={more}
        onMore={() => {
          setShown((n) => n + BATCH_PAGE_SIZE);
        }}
        onOpen={(batch) => {
          openBatch(batch.id);
        }}
      />
    </details>
  );
}
