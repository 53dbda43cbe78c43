// The server's REST API under {base_url}proteiniq/api/v1/, through JupyterLab's
// ServerConnection (it adds the XSRF token and the page's credentials).
import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import type { Batch, Filters, Job, JobEvent, JobWithContents, Outcome, Share } from "@proteiniq/views";

export interface JobPage {
  data: Job[];
  has_more: boolean;
  next_cursor: string | null;
}

export interface Account {
  workspace: { id: string; name: string; credits: { available: number } };
  role: string;
}

/** A failed request: the API's own message, and its HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function outcomeOf(error: unknown): Outcome {
  return { ok: false, error: error instanceof Error ? error.message : String(error) };
}

export class PiqApi {
  readonly settings = ServerConnection.makeSettings();

  url(...parts: string[]): string {
    return URLExt.join(this.settings.baseUrl, "proteiniq", "api", "v1", ...parts);
  }

  /** The page address that opens a job in JupyterLab. */
  labLink(jobId: string): string {
    const lab = URLExt.join(this.settings.baseUrl, "lab");
    return `${new URL(lab, window.location.origin).href}?jobId=${encodeURIComponent(jobId)}`;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await ServerConnection.makeRequest(this.url(path), init, this.settings);
    if (response.ok) return response;
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: { message?: string } };
      if (typeof body.error?.message === "string") message = body.error.message;
    } catch {
      // not the API's JSON: keep the status line
    }
    throw new ApiError(message, response.status);
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    if (init.body !== undefined) headers.set("Content-Type", "application/json");
    const response = await this.fetch(path, { ...init, headers });
    return (await response.json()) as T;
  }

  jobs(filters: Filters, startingAfter: string | null, limit: number): Promise<JobPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (filters.tool !== "") query.set("tool", filters.tool);
    if (filters.status.length > 0) query.set("status", filters.status.join(","));
    if (filters.search !== "") query.set("q", filters.search);
    if (startingAfter !== null) query.set("starting_after", startingAfter);
    return this.json<JobPage>(`jobs?${query.toString()}`);
  }

  job(id: string): Promise<JobWithContents> {
    return this.json<JobWithContents>(`jobs/${encodeURIComponent(id)}`);
  }

  rename(id: string, name: string): Promise<Job> {
    return this.json<Job>(`jobs/${encodeURIComponent(id)}`, { method: "PATCH", body: JSON.stringify({ name }) });
  }

  async remove(id: string): Promise<void> {
    await this.fetch(`jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  act(id: string, action: "cancel" | "retry" | "duplicate", body: Record<string, unknown> = {}): Promise<Job> {
    return this.json<Job>(`jobs/${encodeURIComponent(id)}/${action}`, { method: "POST", body: JSON.stringify(body) });
  }

  share(id: string): Promise<Share> {
    return this.json<Share>(`jobs/${encodeURIComponent(id)}/share`);
  }

  setShare(id: string, change: Record<string, unknown>): Promise<Share> {
    return this.json<Share>(`jobs/${encodeURIComponent(id)}/share`, { method: "PUT", body: JSON.stringify(change) });
  }

  async exportText(id: string, format: "csv" | "json"): Promise<string> {
    return (await this.fetch(`jobs/${encodeURIComponent(id)}/export?format=${format}`)).text();
  }

  file(id: string, name: string): Promise<Response> {
    return this.fetch(`jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}?download=0`);
  }

  /** A job's past events (the stream ends after them with history=1). */
  async timeline(id: string): Promise<JobEvent[]> {
    const text = await (await this.fetch(`jobs/${encodeURIComponent(id)}/events?history=1`)).text();
    const events: JobEvent[] = [];
    for (const block of text.split("\n\n")) {
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim())
        .join("\n");
      if (data !== "") events.push(JSON.parse(data) as JobEvent);
    }
    return events;
  }

  account(): Promise<Account> {
    return this.json<Account>("account");
  }

  async tools(): Promise<string[]> {
    const list = await this.json<{ data: { id: string }[] }>("tools");
    return list.data.map((tool) => tool.id);
  }

  batch(id: string): Promise<Batch> {
    return this.json<Batch>(`batches/${encodeURIComponent(id)}`);
  }

  retryFailed(id: string): Promise<unknown> {
    return this.json(`batches/${encodeURIComponent(id)}/retry-failed`, { method: "POST", body: "{}" });
  }

  cancelBatch(id: string): Promise<unknown> {
    return this.json(`batches/${encodeURIComponent(id)}/cancel`, { method: "POST", body: "{}" });
  }
}
