// How times, durations and credits read in every view.
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, "0")} min`;
}

/** Seconds a job has run: to its end, or to `now` while it runs. */
export function elapsedSeconds(
  startedAt: string | null,
  completedAt: string | null,
  now: number,
): number | null {
  if (startedAt === null) return null;
  const start = Date.parse(startedAt);
  const end = completedAt === null ? now : Date.parse(completedAt);
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return (end - start) / 1000;
}

export function formatCredits(credits: number): string {
  return `${credits.toLocaleString()} credit${credits === 1 ? "" : "s"}`;
}

/** A job's cost in a list: what it was charged, else its estimate; a tool that
 *  costs nothing says so instead of "0 credits est.". */
export function formatJobCredits(credits: { charged: number; estimated: number }): string {
  if (credits.charged > 0) return formatCredits(credits.charged);
  if (credits.estimated === 0) return "Free";
  return `${formatCredits(credits.estimated)} est.`;
}

export function formatTime(iso: string | null): string {
  if (iso === null) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function statusLabel(status: string): string {
  return status.charAt(0) + status.slice(1).toLowerCase().replace(/_/g, " ");
}
