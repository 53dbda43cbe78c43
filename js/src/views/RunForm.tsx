// The run form of a tool: its input slots (text areas, and file pickers where the
// slot takes files), its settings drawn from the JSON schema, and a Run button that
// shows the cost, its tooltip the breakdown and the balance. The host quotes the
// values again (debounced here) as they change; the quote's blocking errors show
// before anything is submitted. Data comes through props and callbacks only, so
// the notebook widget and the lab extension feed the same view.
import { useEffect, useId, useRef, useState } from "react";
import { formatCredits } from "./format";
import type { BlockingError, InputSlot, JobQuote, RunValues, ToolDetail } from "./formTypes";
import { SchemaField } from "./schemaField";
import type { Job, Outcome } from "./types";

export interface RunFormProps {
  tool: ToolDetail;
  /** The values the host holds (the form starts from them, and follows them). */
  values: RunValues;
  /** The quote of the values last handed to `onValues` (null before one). */
  quote: JobQuote | null;
  /** What stopped the last quote, in the host's words. */
  error: string | null;
  /** The host is quoting. */
  quoting: boolean;
  /** The job the form submitted, once it has. */
  job: Job | null;
  onValues: (values: RunValues) => void;
  onSubmit: (values: RunValues) => Promise<Outcome>;
  /** The inputs are those of this job, fixed (a duplicate runs on them): shown,
   *  not changed. */
  inputsOf?: string | undefined;
  /** Draws the submitted job (the live progress view). */
  renderJob?: (job: Job) => React.ReactNode;
  debounceMs?: number;
}

/** Tools with this many settings or fewer show them open; more fold under "Settings". */
const OPEN_SETTINGS = 4;

/** File formats a picker can offer for the slot (a bare `text` slot has none). */
export function acceptedFiles(slot: InputSlot): string | null {
  const files = slot.formats.filter((format) => format !== "text");
  return files.length > 0 ? files.map((format) => `.${format}`).join(",") : null;
}

/** The cost as the Run button says it. */
export function costText(quote: JobQuote | null): string {
  if (quote === null) return "cost not known yet";
  if (quote.blocking_errors.length > 0 && quote.estimated_credits === 0) return "no cost yet";
  return quote.estimated_credits === 0 ? "free" : formatCredits(quote.estimated_credits);
}

function SlotField(props: {
  slot: InputSlot;
  text: string;
  problem: string | undefined;
  idPrefix: string;
  fixed: boolean;
  onChange: (text: string) => void;
}): React.JSX.Element {
  const { slot, text, problem, idPrefix, fixed, onChange } = props;
  const id = `${idPrefix}-input-${slot.id}`;
  const accept = fixed ? null : acceptedFiles(slot);
  const [fileName, setFileName] = useState<string | null>(null);
  const pick = (event: React.ChangeEvent<HTMLInputElement>): void => {
    const file = event.target.files?.[0];
    if (file === undefined) return;
    setFileName(file.name);
    void file.text().then(onChange);
  };
  const placeholder =
    slot.kind === "structure"
      ? "paste the file, load one, or name a PDB entry (pdb:1FKN)"
      : slot.formats.join(", ");
  const describedBy = [`${id}-help`, problem === undefined ? "" : `${id}-problem`]
    .filter((part) => part !== "")
    .join(" ");
  return (
    <div className="piq-field">
      <label htmlFor={id}>
        {slot.label}
        {slot.required ? <span className="piq-muted"> (required)</span> : null}
      </label>
      <textarea
        id={id}
        className="piq-input"
        data-testid={`piq-input-${slot.id}`}
        rows={4}
        spellCheck={false}
        placeholder={placeholder}
        aria-describedby={describedBy}
        aria-invalid={problem === undefined ? undefined : true}
        aria-required={slot.required}
        readOnly={fixed}
        value={text}
        onChange={(event) => {
          setFileName(null);
          onChange(event.target.value);
        }}
      />
      {accept !== null ? (
        <span className="piq-row piq-small">
          <label htmlFor={`${id}-file`}>Load from a file</label>
          <input
            id={`${id}-file`}
            data-testid={`piq-file-${slot.id}`}
            type="file"
            accept={accept}
            onChange={pick}
          />
          {fileName !== null ? <span className="piq-muted">{fileName}</span> : null}
        </span>
      ) : null}
      <small id={`${id}-help`} className="piq-muted piq-small">
        {slot.description !== "" ? slot.description : `Formats: ${slot.formats.join(", ")}`}
      </small>
      {problem !== undefined ? (
        <small id={`${id}-problem`} className="piq-error piq-small">
          {problem}
        </small>
      ) : null}
    </div>
  );
}

/** Each blocking error under the slot or setting it names. */
function placeProblems(problems: BlockingError[]): {
  bySlot: Map<string, string>;
  bySetting: Map<string, string>;
} {
  const bySlot = new Map<string, string>();
  const bySetting = new Map<string, string>();
  for (const problem of problems) {
    if (typeof problem.slot === "string") bySlot.set(problem.slot, problem.message);
    if (typeof problem.field === "string" && problem.field.startsWith("settings.")) {
      bySetting.set(problem.field.slice("settings.".length), problem.message);
    }
  }
  return { bySlot, bySetting };
}

export function RunForm(props: RunFormProps): React.JSX.Element {
  const { tool, quote, error, quoting, job, onValues, onSubmit, renderJob, inputsOf } = props;
  const debounceMs = props.debounceMs ?? 400;
  const idPrefix = useId();
  const [draft, setDraft] = useState<RunValues>(props.values);
  const [pending, setPending] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const timer = useRef<number | null>(null);

  // Values the host changes (from Python, or another view) show unless the
  // person is typing.
  const hostValues = JSON.stringify(props.values);
  useEffect(() => {
    if (timer.current === null) setDraft(JSON.parse(hostValues) as RunValues);
  }, [hostValues]);
  useEffect(
    () => () => {
      if (timer.current !== null) window.clearTimeout(timer.current);
    },
    [],
  );

  const change = (next: RunValues): void => {
    setDraft(next);
    setPending(true);
    setSubmitError(null);
    if (timer.current !== null) window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      timer.current = null;
      setPending(false);
      onValues(next);
    }, debounceMs);
  };
  const setSetting = (name: string, value: unknown): void => {
    const settings = Object.fromEntries(
      Object.entries(draft.settings).filter(([key]) => key !== name),
    );
    if (value !== undefined) settings[name] = value;
    change({ ...draft, settings });
  };
  const submit = (event: React.FormEvent): void => {
    event.preventDefault();
    if (cannotRun) return;
    if (timer.current !== null) {
      window.clearTimeout(timer.current);
      timer.current = null;
      setPending(false);
    }
    setSubmitting(true);
    setSubmitError(null);
    void onSubmit(draft).then((outcome) => {
      setSubmitting(false);
      if (!outcome.ok) setSubmitError(outcome.error ?? "The job could not be submitted.");
    });
  };

  const problems = quote?.blocking_errors ?? [];
  const { bySlot, bySetting } = placeProblems(problems);
  const errors = [error, submitError].filter((e): e is string => e !== null);
  const blocked = problems.length > 0 || error !== null;
  const unavailable = !tool.availability.available;
  const cannotRun = blocked || submitting || unavailable;
  const properties = tool.input.settings.properties ?? {};
  const cost = costText(quote);
  const tipId = `${idPrefix}-cost`;

  return (
    <form
      className="piq-view piq-run-form"
      aria-label={`Run ${tool.name}`}
      onSubmit={submit}
      noValidate
    >
      <div className="piq-row">
        <strong className="piq-title">{tool.name}</strong>
        <span className="piq-muted">{tool.description}</span>
      </div>
      {unavailable ? (
        <p className="piq-error">Not available here: {tool.availability.reason}</p>
      ) : null}
      <fieldset className="piq-fieldset">
        <legend>{inputsOf === undefined ? "Inputs" : `Inputs of ${inputsOf}`}</legend>
        {tool.input.slots.map((slot) => (
          <SlotField
            key={slot.id}
            slot={slot}
            idPrefix={idPrefix}
            text={draft.inputs[slot.id] ?? ""}
            problem={bySlot.get(slot.id)}
            fixed={inputsOf !== undefined}
            onChange={(text) => {
              change({ ...draft, inputs: { ...draft.inputs, [slot.id]: text } });
            }}
          />
        ))}
      </fieldset>
      {Object.keys(properties).length > 0 ? (
        <details
          className="piq-fieldset"
          open={Object.keys(properties).length <= OPEN_SETTINGS || bySetting.size > 0}
        >
          <summary data-testid="piq-run-settings">
            Settings ({Object.keys(properties).length}
            {Object.keys(draft.settings).length > 0
              ? `, ${String(Object.keys(draft.settings).length)} changed`
              : ""}
            )
          </summary>
          {Object.entries(properties).map(([name, prop]) => (
            <SchemaField
              key={name}
              name={name}
              prop={prop}
              idPrefix={idPrefix}
              value={draft.settings[name]}
              problem={bySetting.get(name)}
              onChange={(value) => {
                setSetting(name, value);
              }}
            />
          ))}
        </details>
      ) : null}
      <div className="piq-field">
        <label htmlFor={`${idPrefix}-name`}>Job name (optional)</label>
        <input
          id={`${idPrefix}-name`}
          className="piq-input"
          data-testid="piq-run-name"
          type="text"
          value={draft.name}
          onChange={(event) => {
            change({ ...draft, name: event.target.value });
          }}
        />
      </div>
      {blocked || errors.length > 0 ? (
        <ul className="piq-errors piq-error" role="alert" data-testid="piq-run-errors">
          {errors.map((message) => (
            <li key={message}>{message}</li>
          ))}
          {problems.map((problem, index) => (
            <li key={`${String(index)}-${problem.message}`}>{problem.message}</li>
          ))}
        </ul>
      ) : null}
      <div className="piq-row">
        <span className="piq-tip-anchor">
          <button
            type="submit"
            className="piq-button piq-primary"
            data-testid="piq-run-button"
            aria-describedby={tipId}
            // Still focusable when it cannot run, so its tooltip (the cost's
            // breakdown and the balance) is reachable by keyboard.
            aria-disabled={cannotRun}
          >
            {submitting ? "Submitting…" : `Run · ${cost}`}
          </button>
          <span id={tipId} role="tooltip" className="piq-tip" data-testid="piq-run-breakdown">
            {quote === null ? (
              "The cost shows once the inputs are quoted."
            ) : (
              <>
                {quote.breakdown.map((line) => (
                  <span key={line.label} className="piq-tip-line">
                    {line.label}: {line.quantity} × {line.unit_credits} ={" "}
                    {formatCredits(line.credits)}
                  </span>
                ))}
                {quote.breakdown.length === 0 ? (
                  <span className="piq-tip-line">{tool.credit_model.description}</span>
                ) : null}
                <span className="piq-tip-line">
                  Balance {formatCredits(quote.available_credits)}; after this run{" "}
                  {formatCredits(quote.available_credits - quote.estimated_credits)}
                </span>
              </>
            )}
          </span>
        </span>
        <span className="piq-muted" data-testid="piq-run-cost" aria-live="polite">
          {pending || quoting ? "quoting…" : cost}
        </span>
      </div>
      {job !== null ? (
        <div data-testid="piq-run-job">
          {renderJob !== undefined ? (
            renderJob(job)
          ) : (
            <p>
              Job {job.name} is {job.status}.
            </p>
          )}
        </div>
      ) : null}
    </form>
  );
}
