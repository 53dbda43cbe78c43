// JupyterLab notifications when the reader's own jobs end. Jobs that end together
// (a notebook's ten dockings, a batch) share one notification, kept up to date as
// more end, rather than stacking a toast each over the notebook.
import { Notification } from "@jupyterlab/apputils";
import type { ReadonlyJSONValue } from "@lumino/coreutils";
import type { PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";

type Kind = "success" | "error" | "warning";

/** The statuses announced, in the order a summary lists them. */
const ENDINGS: Record<string, { type: Kind; says: string }> = {
  COMPLETED: { type: "success", says: "completed" },
  FAILED: { type: "error", says: "failed" },
  TIMEOUT: { type: "error", says: "timed out" },
  BUDGET_EXCEEDED: { type: "warning", says: "stopped: over budget" },
};
/** Endings this close together are read and announced at once. */
const GATHER_MS = 400;
/** A notification updated this recently takes the next endings too. */
const KEEP_MS = 10_000;
/** How long a notification stays on screen after its last update. */
const SHOWN_MS = 10_000;

/** A job of the reader's that ended, as a notification names it. */
export interface Ended {
  id: string;
  name: string;
  status: string;
}

export interface Announcement {
  message: string;
  type: Kind;
}

/** What one notification says of the jobs that ended, the latest last. */
export function announcement(ended: readonly Ended[]): Announcement {
  const latest = ended[ended.length - 1];
  if (latest === undefined) throw new Error("an announcement needs a job that ended");
  const says = (status: string): string => ENDINGS[status]?.says ?? status.toLowerCase();
  const types = ended.map((job) => ENDINGS[job.status]?.type ?? "warning");
  const type: Kind = types.includes("error") ? "error" : types.includes("warning") ? "warning" : "success";
  if (ended.length === 1) return { message: `Job ${latest.name} ${says(latest.status)}.`, type };
  const counts = Object.keys(ENDINGS)
    .map((status) => [status, ended.filter((job) => job.status === status).length] as const)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${says(status)}`);
  const latestSays = `Latest: ${latest.name} (${says(latest.status)}).`;
  const summary = counts.length === 1 ? `${ended.length} jobs ${says(latest.status)}` : `${ended.length} jobs ended: ${counts.join(", ")}`;
  return { message: `${summary}. ${latestSays}`, type };
}

/** The reader's user id: the submitter of their newest job (none before their first). */
async function whoAmI(api: PiqApi): Promise<string | null> {
  const page = await api.json<{ data: { submitter: { id: string } }[] }>("jobs?mine=1&limit=1");
  return page.data[0]?.submitter.id ?? null;
}

export function notifyEndings(
  api: PiqApi,
  hub: EventHub,
  openJob: (id: string) => void,
  openPanel: () => void,
): void {
  let me: string | null = null;
  const started = Date.now();
  let waiting: string[] = [];
  let timer: number | null = null;
  let shown: { id: string; jobs: Ended[]; at: number } | null = null;

  const options = (jobs: Ended[]): Notification.IOptions<ReadonlyJSONValue> => {
    const latest = jobs[jobs.length - 1] as Ended;
    const actions: Notification.IAction[] = [
      {
        label: "Open job",
        caption: `Open ${latest.name}`,
        callback: () => {
          openJob(latest.id);
        },
      },
    ];
    if (jobs.length > 1) {
      actions.push({ label: "Show jobs", caption: "Show the Jobs panel", callback: openPanel });
    }
    return { autoClose: SHOWN_MS, actions };
  };

  const announce = async (ids: string[]): Promise<void> => {
    me ??= await whoAmI(api);
    const read = await Promise.all(ids.map((id) => api.job(id).catch(() => null)));
    const mine: Ended[] = [];
    for (const job of read) {
      if (job !== null && job.submitter.id === me) mine.push({ id: job.id, name: job.name, status: job.status });
    }
    if (mine.length === 0) return;
    const now = Date.now();
    // The notification still up takes these too (unless it was dismissed meanwhile).
    if (shown !== null && now - shown.at < KEEP_MS) {
      const jobs = [...shown.jobs, ...mine];
      if (Notification.update({ id: shown.id, ...announcement(jobs), ...options(jobs) })) {
        shown = { id: shown.id, jobs, at: now };
        return;
      }
    }
    const { message, type } = announcement(mine);
    shown = { id: Notification.emit(message, type, options(mine)), jobs: mine, at: now };
  };

  hub.event.connect((_, event: LiveEvent) => {
    if (event.kind !== "status" || ENDINGS[event.status] === undefined) return;
    // Only what ends while the page is open, not the replay of older endings.
    if (Date.parse(event.created_at) < started - 5000) return;
    waiting.push(event.job_id);
    if (timer !== null) return;
    timer = window.setTimeout(() => {
      const ids = waiting;
      waiting = [];
      timer = null;
      void announce(ids).catch(() => undefined);
    }, GATHER_MS);
  });
}
