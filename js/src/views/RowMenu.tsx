// A job row's menu: rename, delete, retry, duplicate, export, share, copy link.
// The table opens it in a row of its own under the job's row (so nothing clips it):
// a list of items (arrow keys move, Escape closes); items that need more (a new
// name, a confirmation, a visibility) open a small panel in its place.
import { useEffect, useRef, useState } from "react";
import type { RowAction } from "./JobTable";
import type { Job, Outcome } from "./types";

type Panel = "rename" | "delete" | "share" | null;

interface Item {
  key: string;
  label: string;
}

export interface RowMenuProps {
  job: Job;
  /** Closes the menu (the table gives focus back to the row's menu button). */
  onClose: () => void;
  onAction: (action: RowAction) => Promise<Outcome>;
  onShareDialog?: ((job: Job) => void) | undefined;
  /** Opens the host's form to change the settings before the duplicate runs. */
  onDuplicateDialog?: ((job: Job) => void) | undefined;
  onNotice: (notice: string | null) => void;
}

const VISIBILITIES: { value: string; label: string }[] = [
  { value: "private", label: "Private: the workspace only" },
  { value: "logged_in", label: "Anyone signed in with the link" },
  { value: "public", label: "Public: anyone with the link" },
];

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function menuButtonId(job: Job): string {
  return `piq-row-menu-${job.id}`;
}

export function RowMenu(props: RowMenuProps): React.JSX.Element {
  const { job, onClose, onAction, onShareDialog, onDuplicateDialog, onNotice } = props;
  const [panel, setPanel] = useState<Panel>(null);
  const [name, setName] = useState(job.name);
  const [visibility, setVisibility] = useState(job.visibility);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const menu = useRef<HTMLUListElement>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  const label = `Actions for ${job.name}`;

  useEffect(() => {
    if (panel === null) menu.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
  }, [panel]);
  useEffect(() => {
    if (panel !== null) panelRef.current?.querySelector<HTMLElement>("input, select, button")?.focus();
  }, [panel]);

  const close = (): void => {
    setPanel(null);
    setError(null);
    onClose();
  };

  const act = (action: RowAction, then?: (outcome: Outcome) => void): void => {
    setBusy(true);
    setError(null);
    void onAction(action).then((outcome) => {
      setBusy(false);
      if (!outcome.ok) {
        setError(outcome.error ?? "That did not work.");
        return;
      }
      then?.(outcome);
      close();
    });
  };

  const items: Item[] = [];
  if (job.permissions.change) {
    items.push({ key: "rename", label: "Rename…" }, { key: "delete", label: "Delete…" });
  }
  if (job.status === "FAILED") items.push({ key: "retry", label: "Retry" });
  if (job.status === "COMPLETED") {
    items.push({ key: "duplicate", label: onDuplicateDialog === undefined ? "Duplicate" : "Duplicate…" });
  }
  items.push({ key: "export-csv", label: "Export CSV" }, { key: "export-json", label: "Export JSON" });
  if (job.permissions.change) items.push({ key: "share", label: "Share…" });
  items.push({ key: "link", label: "Copy link" });

  const exported = (outcome: Outcome): void => {
    if (typeof outcome.text === "string" && typeof outcome.filename === "string") {
      const mime = typeof outcome.mime === "string" ? outcome.mime : "text/plain";
      downloadFile(outcome.filename, outcome.text, mime);
      onNotice(`Saved ${outcome.filename}.`);
    }
  };

  const copied = (outcome: Outcome): void => {
    const link = typeof outcome.link === "string" ? outcome.link : null;
    if (link === null) {
      onNotice(`${job.name} has no link: the kernel runs without a server and the job is not public.`);
      return;
    }
    void copyText(link).then((done) => {
      onNotice(done ? `Link to ${job.name} copied.` : `Link to ${job.name}: ${link}`);
    });
  };

  const choose = (key: string): void => {
    if (busy) return;
    switch (key) {
      case "rename":
        setName(job.name);
        setPanel("rename");
        break;
      case "delete":
        setPanel("delete");
        break;
      case "retry":
        act({ action: "retry" }, () => {
          onNotice(`Retrying ${job.name} as a new job.`);
        });
        break;
      case "duplicate":
        if (onDuplicateDialog !== undefined) {
          close();
          onDuplicateDialog(job);
        } else {
          act({ action: "duplicate" }, () => {
            onNotice(`${job.name} duplicated as a new job.`);
          });
        }
        break;
      case "export-csv":
        act({ action: "export", format: "csv" }, exported);
        break;
      case "export-json":
        act({ action: "export", format: "json" }, exported);
        break;
      case "share":
        if (onShareDialog !== undefined) {
          close();
          onShareDialog(job);
        } else {
          setVisibility(job.visibility);
          setPanel("share");
        }
        break;
      case "link":
        act({ action: "link" }, copied);
        break;
    }
  };

  const moveFocus = (event: React.KeyboardEvent<HTMLUListElement>): void => {
    const entries = Array.from(menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? []);
    const index = entries.indexOf(document.activeElement as HTMLElement);
    const go = (i: number): void => {
      entries[(i + entries.length) % entries.length]?.focus();
    };
    if (event.key === "ArrowDown" || event.key === "ArrowRight") go(index + 1);
    else if (event.key === "ArrowUp" || event.key === "ArrowLeft") go(index - 1);
    else if (event.key === "Home") go(0);
    else if (event.key === "End") go(entries.length - 1);
    else if (event.key === "Escape" || event.key === "Tab") close();
    else return;
    event.preventDefault();
  };

  return (
    <div className="piq-menu-wrap">
      {panel === null && (
        <ul ref={menu} role="menu" aria-label={label} className="piq-menu" onKeyDown={moveFocus}>
          {items.map((item) => (
            <li
              key={item.key}
              role="menuitem"
              tabIndex={-1}
              aria-disabled={busy}
              className="piq-menu-item"
              onClick={() => {
                choose(item.key);
              }}
              onKeyDown={(event) => {
                if (event.key === "Enter" || event.key === " ") {
                  event.preventDefault();
                  choose(item.key);
                }
              }}
            >
              {item.label}
            </li>
          ))}
        </ul>
      )}
      {panel !== null && (
        <div
          ref={panelRef}
          className="piq-dialog"
          role="dialog"
          aria-label={`${panel === "rename" ? "Rename" : panel === "delete" ? "Delete" : "Share"} ${job.name}`}
          onKeyDown={(event) => {
            if (event.key === "Escape") close();
          }}
        >
          {panel === "rename" && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                act({ action: "rename", name });
              }}
            >
              <label className="piq-field">
                <span>New name</span>
                <input
                  className="piq-input"
                  value={name}
                  onChange={(event) => {
                    setName(event.target.value);
                  }}
                  onKeyDown={(event) => {
                    // A host may take Enter for itself before the form sees it.
                    if (event.key === "Enter") {
                      event.preventDefault();
                      act({ action: "rename", name });
                    }
                  }}
                />
              </label>
              <div className="piq-row">
                <button type="submit" className="piq-button" disabled={busy}>
                  Rename
                </button>
                <button type="button" className="piq-button" onClick={close}>
                  Keep the name
                </button>
              </div>
            </form>
          )}
          {panel === "delete" && (
            <>
              <p className="piq-dialog-title">Delete {job.name}?</p>
              <p>
                This is permanent: the job, its inputs and its results are removed and cannot be
                brought back. Its credit history is kept.
              </p>
              <div className="piq-row">
                <button
                  type="button"
                  className="piq-button piq-danger"
                  disabled={busy}
                  onClick={() => {
                    act({ action: "delete" }, () => {
                      onNotice(`${job.name} deleted.`);
                    });
                  }}
                >
                  Delete permanently
                </button>
                <button type="button" className="piq-button" onClick={close}>
                  Keep it
                </button>
              </div>
            </>
          )}
          {panel === "share" && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                act({ action: "share", visibility }, () => {
                  onNotice(`${job.name} is now ${visibility.replace("_", " ")}.`);
                });
              }}
            >
              <label className="piq-field">
                <span>Who may see it</span>
                <select
                  className="piq-select"
                  value={visibility}
                  onChange={(event) => {
                    setVisibility(event.target.value);
                  }}
                >
                  {VISIBILITIES.map((v) => (
                    <option key={v.value} value={v.value}>
                      {v.label}
                    </option>
                  ))}
                </select>
              </label>
              <div className="piq-row">
                <button type="submit" className="piq-button" disabled={busy}>
                  Share
                </button>
                <button type="button" className="piq-button" onClick={close}>
                  Cancel
                </button>
              </div>
            </form>
          )}
        </div>
      )}
      {error !== null && (
        <p role="alert" className="piq-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** Saves text as a file in the browser. */
export function downloadFile(filename: string, text: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}
