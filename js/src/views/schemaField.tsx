/**
 * One setting of a tool, drawn from its JSON schema: a choice for an enum, a
 * checkbox for a boolean, a number field with the schema's bounds, a text field
 * (one item per line for a list). A setting that may be null is empty when unset.
 */

export interface SchemaProperty {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: SchemaProperty[];
  items?: SchemaProperty;
}

/** The property with its null alternative folded in: ``anyOf: [X, null]`` is X, nullable. */
export function resolveProperty(prop: SchemaProperty): { schema: SchemaProperty; nullable: boolean } {
  if (!prop.anyOf) {
    return { schema: prop, nullable: false };
  }
  const others = prop.anyOf.filter((option) => option.type !== "null");
  const nullable = others.length < prop.anyOf.length;
  const chosen = others[0] ?? {};
  return {
    schema: { ...chosen, title: prop.title, description: prop.description, default: prop.default },
    nullable,
  };
}

/** What a field's text means as a setting's value (``undefined``: the default). */
export function parseSetting(prop: SchemaProperty, text: string): unknown {
  const { schema, nullable } = resolveProperty(prop);
  if (text.trim() === "") {
    return nullable ? null : undefined;
  }
  if (schema.type === "integer" || schema.type === "number") {
    const value = Number(text);
    // A text that is no number goes to the server as it is, which names the problem.
    return Number.isFinite(value) ? value : text;
  }
  if (schema.type === "array") {
    return text
      .split(/[\n,]/)
      .map((part) => part.trim())
      .filter((part) => part !== "");
  }
  return text;
}

/** A setting's value as its field shows it. */
export function settingText(value: unknown): string {
  if (value === undefined || value === null) {
    return "";
  }
  if (Array.isArray(value)) {
    return value.map((item) => settingText(item)).join("\n");
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return JSON.stringify(value);
}

export interface SchemaFieldProps {
  name: string;
  prop: SchemaProperty;
  /** The value given (``undefined`` when the default applies). */
  value: unknown;
  /** A problem the quote found in this setting. */
  problem?: string;
  idPrefix: string;
  onChange: (value: unknown) => void;
}

export function SchemaField(props: SchemaFieldProps): React.JSX.Element {
  const { name, prop, value, problem, idPrefix, onChange } = props;
  const { schema, nullable } = resolveProperty(prop);
  const id = `${idPrefix}-setting-${name}`;
  const help = `${id}-help`;
  const label = schema.title ?? name;
  const shown = value === undefined ? schema.default : value;
  const describedBy = [schema.description ? help : "", problem ? `${id}-problem` : ""]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    "aria-describedby": describedBy || undefined,
    "aria-invalid": problem ? true : undefined,
    "data-testid": `piq-setting-${name}`,
  };
  let control: React.JSX.Element;
  if (schema.type === "boolean") {
    control = (
      <input
        {...common}
        type="checkbox"
        checked={Boolean(shown)}
        onChange={(event) => { onChange(event.target.checked); }}
      />
    );
  } else if (schema.enum) {
    control = (
      <select
        {...common}
        className="piq-select"
        value={settingText(shown)}
        onChange={(event) => { onChange(event.target.value === "" ? null : event.target.value); }}
      >
        {nullable ? <option value="">(none)</option> : null}
        {schema.enum.map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  } else if (schema.type === "array") {
    control = (
      <textarea
        {...common}
        className="piq-input"
        rows={2}
        placeholder={nullable ? "(none) one per line" : "one per line"}
        value={settingText(shown)}
        onChange={(event) => { onChange(parseSetting(prop, event.target.value)); }}
      />
    );
  } else {
    const numeric = schema.type === "integer" || schema.type === "number";
    control = (
      <input
        {...common}
        className="piq-input"
        type={numeric ? "number" : "text"}
        inputMode={numeric ? "decimal" : undefined}
        step={schema.type === "integer" ? 1 : "any"}
        min={schema.minimum ?? schema.exclusiveMinimum}
        max={schema.maximum ?? schema.exclusiveMaximum}
        placeholder={nullable ? "(default)" : undefined}
        value={settingText(shown)}
        onChange={(event) => { onChange(parseSetting(prop, event.target.value)); }}
      />
    );
  }
  return (
    <div className={`piq-field${schema.type === "boolean" ? " piq-field-check" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {control}
      {schema.description ? (
        <small id={help} className="piq-muted piq-small">
          {schema.description}
        </small>
      ) : null}
      {problem ? (
        <small id={`${id}-problem`} className="piq-error piq-small" role="alert">
          {problem}
        </small>
      ) : null}
    </div>
  );
}
