// One file in a list: its name, format and size, a preview that opens under it and
// a download. A job's detail and the Files view list their files with it; the host
// reads the file (`onPreview`, `onDownload`) and may add what else it knows (`extra`).
import { useState } from "react";
import type { Outcome } from "./types";

export interface ResultFile {
  name: string;
  format: string;
  size: number;
  content_type: string;
}

export interface Preview extends Outcome {
  text?: string | null;
  truncated?: boolean;
  binary?: boolean;
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} kB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export interface FileRowProps {
  file: { name: string; format: string; size: number };
  onPreview: () => Promise<Preview>;
  onDownload: () => Promise<Outcome>;
  /** More about the file, after its size (where it came from, its job). */
  extra?: React.ReactNode;
}

export function FileRow(props: FileRowProps): React.JSX.Element {
  const { file } = props;
  const [preview, setPreview] = useState<Preview | null>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = (): void => {
    if (open) {
      setOpen(false);
      return;
    }
    setOpen(true);
    if (preview !== null) return;
    setBusy(true);
    void props.onPreview().then((answer) => {
      setBusy(false);
      if (answer.ok) setPreview(answer);
      else setError(answer.error ?? "The file could not be read.");
    });
  };
  const download = (): void => {
    setError(null);
    void props.onDownload().then((answer) => {
      if (!answer.ok) setError(answer.error ?? "The file could not be downloaded.");
    });
  };
  return (
    <li className="piq-file">
      <div className="piq-row">
        <code>{file.name}</code>
        <span className="piq-muted">
          {file.format === "" ? "" : `${file.format}, `}
          {formatBytes(file.size)}
        </span>
        {props.extra}
        <button type="button" className="piq-button" aria-expanded={open} onClick={toggle}>
          {open ? "Hide preview" : "Preview"}
          <span className="piq-sr-only"> {file.name}</span>
        </button>
        <button type="button" className="piq-button" onClick={download}>
          Download<span className="piq-sr-only"> {file.name}</span>
        </button>
      </div>
      {open && busy && <p className="piq-muted">Reading…</p>}
      {open &&
        preview !== null &&
        (preview.binary === true ? (
          <p className="piq-muted">Not text: download it to open.</p>
        ) : (
          <pre className="piq-pre" tabIndex={0} aria-label={`Preview of ${file.name}`}>
            {preview.text}
            {preview.truncated === true ? "\n…" : ""}
          </pre>
        ))}
      {error !== null && (
        <p role="alert" className="piq-error">
          {error}
        </p>
      )}
    </li>
  );
}
