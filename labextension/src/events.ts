// The workspace's live events: one same-origin EventSource on {base_url}proteiniq/api/v1/events
// per page. The browser resends Last-Event-ID when it reconnects by itself; after the
// server restarts (the stream errors and closes) a new stream resumes from the last id seen.
import { Signal, type ISignal } from "@lumino/signaling";
import type { Job, JobEvent } from "@proteiniq/views";
import type { PiqApi } from "./api";

/** An event of the workspace stream: a job's event with the job it concerns. */
export type LiveEvent = JobEvent & { job_id: string };

/** Kinds the server sends (an EventSource hears only the kinds it names). */
export const EVENT_KINDS = ["created", "status", "progress", "renamed", "shared", "waiting", "runner", "deleted"];

const RETRY_MS = [500, 1000, 2000, 5000];

/** A job's row after one of its events: what the event says, until a re-read. */
export function applyEvent(job: Job, event: LiveEvent): Job {
  const data = event.data;
  const next: Job = { ...job, status: event.status as Job["status"] };
  if (typeof data.name === "string") next.name = data.name;
  if (typeof data.progress === "number") next.progress = data.progress;
  if (typeof data.progress_message === "string") next.progress_message = data.progress_message;
  if (typeof data.credits_charged === "number") next.credits = { ...job.credits, charged: data.credits_charged };
  if (typeof data.visibility === "string") next.visibility = data.visibility;
  return next;
}

export class EventHub {
  private source: EventSource | null = null;
  private lastId: number | null = null;
  private failures = 0;
  private timer: number | null = null;
  private readonly received = new Signal<this, LiveEvent>(this);
  private readonly connection = new Signal<this, boolean>(this);

  constructor(private readonly api: PiqApi) {}

  /** Every event of the workspace, in order, each once. */
  get event(): ISignal<this, LiveEvent> {
    return this.received;
  }

  /** True when the stream (re)opens, false when it drops. */
  get connected(): ISignal<this, boolean> {
    return this.connection;
  }

  start(): void {
    if (this.source !== null) return;
    const query = this.lastId === null ? "" : `?last_event_id=${this.lastId}`;
    const source = new EventSource(this.api.url(`events${query}`), { withCredentials: true });
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.connection.emit(true);
    };
    const take = (message: MessageEvent<string>): void => {
      const event = JSON.parse(message.data) as LiveEvent;
      if (this.lastId !== null && event.id <= this.lastId) return;
      this.lastId = event.id;
      this.received.emit(event);
    };
    for (const kind of EVENT_KINDS) source.addEventListener(kind, take);
    source.onmessage = take;
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      this.connection.emit(false);
      this.source = null;
      const wait = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)] ?? 5000;
      this.failures += 1;
      this.timer = window.setTimeout(() => {
        this.timer = null;
        this.start();
      }, wait);
    };
  }

  dispose(): void {
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
