/**
 * The API's shapes that the run form, the share dialog and the batch view read:
 * the JSON of ``api.ToolDetail``, ``api.JobQuote``, ``api.Share``, ``api.Batch``
 (only the fields these views use; a job is ``Job`` of ./types).
 */
import type { SchemaProperty } from "./schemaField";

export interface InputSlot {
  id: string;
  kind: string;
  formats: string[];
  label: string;
  description: string;
  required: boolean;
  max_items: number;
}

export interface ToolDetail {
  id: string;
  name: string;
  description: string;
  credit_model: { is_free: boolean; description: string };
  availability: { available: boolean; reason: string | null };
  input: {
    slots: InputSlot[];
    settings: { properties?: Record<string, SchemaProperty>; required?: string[] };
  };
}

export interface QuoteLine {
  label: string;
  quantity: number;
  unit_credits: number;
  credits: number;
}

export interface BlockingError {
  code: string;
  message: string;
  field?: string;
  slot?: string;
  [key: string]: unknown;
}

export interface JobQuote {
  tool: string;
  estimated_credits: number;
  available_credits: number;
  billable_credits: number;
  breakdown: QuoteLine[];
  blocking_errors: BlockingError[];
}

export type Visibility = "private" | "public" | "logged_in" | "invited";

export interface ShareInvite {
  email: string;
  status: "pending" | "active";
}

export interface Share {
  job_id: string;
  visibility: Visibility;
  invites: ShareInvite[];
  public_url: string | null;
}

export interface Batch {
  id: string;
  name: string;
  tool: string;
  status: string;
  progress: number;
  counts: Record<string, number>;
  total: number;
  reserved_credits: number;
  credits_charged: number;
  job_ids: string[];
}

/** What the form holds: the text of each input slot, the settings given, a name. */
export interface RunValues {
  inputs: Record<string, string>;
  settings: Record<string, unknown>;
  name: string;
}
