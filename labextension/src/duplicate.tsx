// Duplicating a completed job: the shared RunForm in the main area, holding the
// job's inputs (fixed: a duplicate runs on them) and its settings to change, its
// cost quoted again as they change; Run submits the duplicate with the settings
// the form holds, and opens the new job.
import { MainAreaWidget } from "@jupyterlab/apputils";
import { ReactWidget, copyIcon } from "@jupyterlab/ui-components";
import {
  RunForm,
  type JobQuote,
  type JobWithContents,
  type Outcome,
  type RunValues,
  type ToolDetail,
} from "@proteiniq/views";
import { useEffect, useRef, useState } from "react";
import { ApiError, outcomeOf, type PiqApi } from "./api";

/** The settings a duplicate sends: those the form holds, and for a setting of the
 *  job the form no longer holds (put back to its default), that default, since the
 *  server merges what it is sent over the job's settings. */
export function duplicateSettings(
  tool: ToolDetail,
  original: Record<string, unknown>,
  held: Record<string, unknown>,
): Record<string, unknown> {
  const properties = tool.input.settings.properties ?? {};
  const settings: Record<string, unknown> = { ...held };
  for (const key of Object.keys(original)) {
    const fallback = properties[key]?.default;
    if (!(key in settings) && fallback !== undefined) settings[key] = fallback;
  }
  return settings;
}

/** The job's settings the form holds: those not at the tool's default (the form
 *  shows the defaults, and counts the others as changed). */
export function settingsOffDefault(tool: ToolDetail, settings: Record<string, unknown>): Record<string, unknown> {
  const properties = tool.input.settings.properties ?? {};
  return Object.fromEntries(
    Object.entries(settings).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(properties[key]?.default)),
  );
}

/** The job's inputs as a quote takes them: the stored text of each item. */
function quotedInputs(job: JobWithContents): Record<string, unknown>[] {
  return (job.input?.inputs ?? []).map((item) => ({
    id: item.id,
    slotId: item.slotId,
    kind: item.kind,
    format: item.format,
    content: item.content,
  }));
}

type Loaded = { job: JobWithContents; tool: ToolDetail } | { missing: string } | null;

interface DuplicateHostProps {
  api: PiqApi;
  jobId: string;
  onDuplicated: (id: string) => void;
}

function DuplicateHost({ api, jobId, onDuplicated }: DuplicateHostProps): React.JSX.Element {
  const [loaded, setLoaded] = useState<Loaded>(null);
  const [values, setValues] = useState<RunValues>({ inputs: {}, settings: {}, name: "" });
  const [quote, setQuote] = useState<JobQuote | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [quoting, setQuoting] = useState(false);
  const asked = useRef(0);

  const requote = async (job: JobWithContents, tool: ToolDetail, next: RunValues): Promise<void> => {
    const n = ++asked.current;
    setQuoting(true);
    try {
      const settings = { ...(job.settings ?? {}), ...duplicateSettings(tool, job.settings ?? {}, next.settings) };
      const answer = await api.quote({ tool: job.tool, input: { inputs: quotedInputs(job) }, settings });
      if (n === asked.current) {
        setQuote(answer);
        setError(null);
      }
    } catch (problem) {
      if (n === asked.current) {
        setQuote(null);
        setError(outcomeOf(problem).error);
      }
    } finally {
      if (n === asked.current) setQuoting(false);
    }
  };

  useEffect(() => {
    const shown = { live: true };
    void (async () => {
      try {
        const job = await api.job(jobId);
        const tool = await api.tool(job.tool);
        if (!shown.live) return;
        const inputs: Record<string, string> = {};
        for (const item of job.input?.inputs ?? []) {
          inputs[item.slotId] = item.slotId in inputs ? `${inputs[item.slotId] ?? ""}\n${item.content}` : item.content;
        }
        // No name: the server names a duplicate after its job.
        const start = { inputs, settings: settingsOffDefault(tool, job.settings ?? {}), name: "" };
        setLoaded({ job, tool });
        setValues(start);
        void requote(job, tool, start);
      } catch (problem) {
        if (!shown.live) return;
        const status = problem instanceof ApiError ? problem.status : 0;
        setLoaded({
          missing: status === 404 ? `Job ${jobId} not found.` : `Job ${jobId} could not be read: ${outcomeOf(problem).error}`,
        });
      }
    })();
    return () => {
      shown.live = false;
    };
    // Read once per job; requote reads only the api.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, jobId]);

  if (loaded === null) {
    return (
      <p className="piq-muted" role="status">
        Loading job {jobId}…
      </p>
    );
  }
  if ("missing" in loaded) {
    return (
      <p role="alert" className="piq-error">
        {loaded.missing}
      </p>
    );
  }
  const { job, tool } = loaded;
  const submit = async (next: RunValues): Promise<Outcome> => {
    try {
      const name = next.name.trim();
      const copy = await api.act(job.id, "duplicate", {
        settings: duplicateSettings(tool, job.settings ?? {}, next.settings),
        ...(name === "" ? {} : { name }),
      });
      onDuplicated(copy.id);
      return { ok: true, error: null };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  return (
    <RunForm
      tool={tool}
      values={values}
      quote={quote}
      error={error}
      quoting={quoting}
      job={null}
      inputsOf={job.name}
      onValues={(next) => {
        setValues(next);
        void requote(job, tool, next);
      }}
      onSubmit={submit}
    />
  );
}

export class DuplicateWidget extends MainAreaWidget<ReactWidget> {
  constructor(api: PiqApi, readonly jobId: string, name: string, openJob: (id: string) => void) {
    const done: { widget: DuplicateWidget | null } = { widget: null };
    const onDuplicated = (id: string): void => {
      openJob(id);
      done.widget?.dispose();
    };
    super({ content: ReactWidget.create(<DuplicateHost api={api} jobId={jobId} onDuplicated={onDuplicated} />) });
    done.widget = this;
    this.id = `proteiniq-duplicate-${jobId}`;
    this.title.label = `Duplicate ${name}`;
    this.title.icon = copyIcon;
    this.title.closable = true;
    this.addClass("piq-lab-detail");
  }
}
