// A JupyterLab notification when one of the reader's own jobs completes or fails,
// with an action that opens it.
import { Notification } from "@jupyterlab/apputils";
import type { PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";

const ENDINGS: Record<string, { type: "success" | "error" | "warning"; says: string }> = {
  COMPLETED: { type: "success", says: "completed" },
  FAILED: { type: "error", says: "failed" },
  TIMEOUT: { type: "error", says: "timed out" },
  BUDGET_EXCEEDED: { type: "warning", says: "stopped: over budget" },
};

/** The reader's user id: the submitter of their newest job (none before their first). */
async function whoAmI(api: PiqApi): Promise<string | null> {
  const page = await api.json<{ data: { submitter: { id: string } }[] }>("jobs?mine=1&limit=1");
  return page.data[0]?.submitter.id ?? null;
}

export function notifyEndings(api: PiqApi, hub: EventHub, openJob: (id: string) => void): void {
  let me: string | null = null;
  const started = Date.now();
  const announce = async (event: LiveEvent, ending: (typeof ENDINGS)[string]): Promise<void> => {
    me ??= await whoAmI(api);
    const job = await api.job(event.job_id);
    if (job.submitter.id !== me) return;
    Notification.emit(`Job ${job.name} ${ending.says}.`, ending.type, {
      autoClose: 10000,
      actions: [
        {
          label: "Open job",
          caption: `Open ${job.name}`,
          callback: () => {
            openJob(job.id);
          },
        },
      ],
    });
  };
  hub.event.connect((_, event: LiveEvent) => {
    const ending = ENDINGS[event.status];
    if (event.kind !== "status" || ending === undefined) return;
    // Only what ends while the page is open, not the replay of older endings.
    if (Date.parse(event.created_at) < started - 5000) return;
    void announce(event, ending).catch(() => undefined);
  });
}
