// The API's shapes as the views read them (the JSON of proteiniq_jupyter.api).
export type JobStatus =
  | "PENDING"
  | "QUEUED"
  | "PROCESSING"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "TIMEOUT"
  | "RETRY"
  | "BUDGET_EXCEEDED";

export const TERMINAL: readonly JobStatus[] = [
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "BUDGET_EXCEEDED",
];

export const ALL_STATUSES: readonly JobStatus[] = [
  "PENDING",
  "QUEUED",
  "PROCESSING",
  "RETRY",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "BUDGET_EXCEEDED",
];

export interface Job {
  id: string;
  object: "job";
  name: string;
  tool: string;
  status: JobStatus;
  status_reason: string | null;
  progress: number;
  progress_message: string | null;
  progress_estimated?: boolean;
  eta_seconds?: number | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
  duration_s: number | null;
  submitter: { id: string; username: string | null };
  workspace_id: string;
  batch_id: string | null;
  origin_job_id: string | null;
  visibility: string;
  attempts: number;
  credits: { estimated: number; charged: number };
  permissions: { see_contents: boolean; change: boolean };
  error?: string | null;
}

/** What an action answers: ok, or the error a person reads. */
export interface Outcome {
  ok: boolean;
  error: string | null;
  [key: string]: unknown;
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.includes(status);
}
