// The server's REST API under {base_url}proteiniq/api/v1/, through JupyterLab's
// ServerConnection (it adds the XSRF token and the page's credentials).
import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import { sortParams } from "@proteiniq/views";
import type {
  Batch,
  FileFilters,
  FileRecord,
  Filters,
  Job,
  JobEvent,
  JobQuote,
  JobWithContents,
  Outcome,
  Share,
  Sort,
  ToolDetail,
} from "@proteiniq/views";

/** A page of a list, as the API answers one. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export type JobPage = Page<Job>;

/** The most rows a page holds (the server's limit). */
const MAX_PAGE = 100;

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

/** Saves what was read as a file in the browser. */
export function saveBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  window.setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}

export class PiqApi {
  readonly settings = ServerConnection.makeSettings();

  url(...parts: string[]): string {
    return URLExt.join(this.settings.baseUrl, "proteiniq", "api", "v1", ...parts);
  }

  /** The page address that opens a job (or with `batchId`, a batch) in JupyterLab. */
  labLink(id: string, key: "jobId" | "batchId" = "jobId"): string {
    const lab = URLExt.join(this.settings.baseUrl, "lab");
    return `${new URL(lab, window.location.origin).href}?${key}=${encodeURIComponent(id)}`;
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

  jobs(filters: Filters, sort: Sort, startingAfter: string | null, limit: number): Promise<JobPage> {
    const query = new URLSearchParams({ limit: String(limit), ...sortParams(sort) });
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

  tool(id: string): Promise<ToolDetail> {
    return this.json<ToolDetail>(`tools/${encodeURIComponent(id)}`);
  }

  quote(body: Record<string, unknown>): Promise<JobQuote> {
    return this.json<JobQuote>("jobs/quote", { method: "POST", body: JSON.stringify(body) });
  }

  files(filters: FileFilters, startingAfter: string | null, limit: number): Promise<Page<FileRecord>> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (filters.search !== "") query.set("q", filters.search);
    if (filters.format !== "") query.set("format", filters.format);
    if (filters.origin !== "") query.set("origin", filters.origin);
    if (startingAfter !== null) query.set("starting_after", startingAfter);
    return this.json<Page<FileRecord>>(`files?${query.toString()}`);
  }

  /** The start of a text file (the server previews text formats only). */
  filePreview(id: string): Promise<{ text: string; truncated: boolean }> {
    return this.json(`files/${encodeURIComponent(id)}?preview=1`);
  }

  async fileBlob(id: string): Promise<Blob> {
    return (await this.fetch(`files/${encodeURIComponent(id)}`)).blob();
  }

  /** Every job of a batch, read a page at a time. */
  async batchJobs(id: string): Promise<Job[]> {
    const jobs: Job[] = [];
    let after: string | null = null;
    for (;;) {
      const query = new URLSearchParams({ batch: id, limit: String(MAX_PAGE) });
      if (after !== null) query.set("starting_after", after);
      const page = await this.json<JobPage>(`jobs?${query.toString()}`);
      jobs.push(...page.data);
      if (!page.has_more || page.next_cursor === null) return jobs;
      after = page.next_cursor;
    }
  }

  batches(startingAfter: string | null, limit: number): Promise<Page<Batch>> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (startingAfter !== null) query.set("starting_after", startingAfter);
    return this.json<Page<Batch>>(`batches?${query.toString()}`);
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
