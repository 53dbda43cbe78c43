// Who may see a job: its visibility, the people invited by email (pending until
// they have an account), removing an invitation, and a link to copy. Data comes
// through props and callbacks only: the notebook widget and the job table's row
// menu (in the notebook and in the lab extension) feed the same view.
import { useId, useState } from "react";
import type { Share, Visibility } from "./formTypes";
import type { Outcome } from "./types";

export interface ShareDialogProps {
  jobName: string;
  share: Share;
  /** The link to copy: the public page when public, else the job's page in Lab. */
  link: string | null;
  onVisibility: (visibility: Visibility) => Promise<Outcome>;
  onInvite: (emails: string[]) => Promise<Outcome>;
  onUninvite: (email: string) => Promise<Outcome>;
  /** Closes the dialog where it is one (the job table's); absent in a notebook. */
  onClose?: () => void;
  /** The host frames the view (a JupyterLab dialog with its own title and button),
   *  so the view shows neither. */
  framed?: boolean;
}

export const VISIBILITIES: { value: Visibility; label: string; help: string }[] = [
  { value: "private", label: "Private", help: "only you" },
  { value: "invited", label: "Invited", help: "the people invited below" },
  { value: "logged_in", label: "Logged in", help: "anyone signed in to this deployment" },
  { value: "public", label: "Public", help: "anyone with the link, without signing in" },
];

/** The emails in what was typed: separated by commas, spaces or new lines. */
export function emailsIn(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

export function ShareDialog(props: ShareDialogProps): React.JSX.Element {
  const { jobName, share, link, onVisibility, onInvite, onUninvite, onClose, framed } = props;
  const id = useId();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState("");

  const run = (change: () => Promise<Outcome>, after?: () => void): void => {
    setBusy(true);
    setError(null);
    void change().then((outcome) => {
      setBusy(false);
      if (outcome.ok) after?.();
      else setError(outcome.error ?? "The sharing could not be changed.");
    });
  };
  const invite = (event: React.FormEvent): void => {
    event.preventDefault();
    const emails = emailsIn(typed);
    if (emails.length > 0) {
      run(
        () => onInvite(emails),
        () => {
          setTyped("");
        },
      );
    }
  };
  const copy = (): void => {
    if (link === null) return;
    navigator.clipboard.writeText(link).then(
      () => {
        setCopied("Link copied.");
      },
      () => {
        setCopied("Copying was refused: select the link and copy it.");
      },
    );
  };

  return (
    <section
      className="piq-view piq-share"
      role={onClose === undefined || framed === true ? "region" : "dialog"}
      aria-labelledby={framed === true ? undefined : `${id}-title`}
      aria-label={framed === true ? `Share ${jobName}` : undefined}
      data-testid="piq-share"
      onKeyDown={(event) => {
        if (onClose !== undefined && event.key === "Escape") onClose();
      }}
    >
      {framed === true ? null : (
        <div className="piq-row piq-spread">
          <strong id={`${id}-title`} className="piq-title">
            Share {jobName}
          </strong>
          {onClose !== undefined ? (
            <button type="button" className="piq-button" onClick={onClose}>
              Close
            </button>
          ) : null}
        </div>
      )}
      <fieldset className="piq-fieldset" disabled={busy}>
        <legend>Who can see it</legend>
        {VISIBILITIES.map((option) => (
          <label key={option.value} className="piq-row">
            <input
              type="radio"
              name={`${id}-visibility`}
              value={option.value}
              data-testid={`piq-share-visibility-${option.value}`}
              checked={share.visibility === option.value}
              onChange={() => {
                run(() => onVisibility(option.value));
              }}
            />
            {option.label} <span className="piq-muted">({option.help})</span>
          </label>
        ))}
      </fieldset>
      <form className="piq-row" onSubmit={invite}>
        <label htmlFor={`${id}-invite`}>Invite by email</label>
        <input
          id={`${id}-invite`}
          className="piq-input"
          data-testid="piq-share-invite"
          type="text"
          inputMode="email"
          autoComplete="off"
          placeholder="name@example.org, another@example.org"
          value={typed}
          disabled={busy}
          onChange={(event) => {
            setTyped(event.target.value);
          }}
        />
        <button
          type="submit"
          className="piq-button"
          data-testid="piq-share-invite-button"
          disabled={busy || emailsIn(typed).length === 0}
        >
          Invite
        </button>
      </form>
      {share.visibility === "private" && share.invites.length > 0 ? (
        <p className="piq-muted piq-small">
          The people invited see the job once its visibility is “Invited”.
        </p>
      ) : null}
      {share.invites.length > 0 ? (
        <ul className="piq-list" aria-label="People invited" data-testid="piq-share-invites">
          {share.invites.map((person) => (
            <li key={person.email} className="piq-row" data-testid="piq-share-person">
              <span>{person.email}</span>
              <span
                className={`piq-badge piq-invite-${person.status}`}
                data-testid={person.status === "pending" ? "piq-share-pending" : "piq-share-active"}
              >
                {person.status === "pending" ? "Pending: no account yet" : "Has access"}
              </span>
              <button
                type="button"
                className="piq-button"
                data-testid="piq-share-remove"
                aria-label={`Remove the invitation of ${person.email}`}
                disabled={busy}
                onClick={() => {
                  run(() => onUninvite(person.email));
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="piq-muted piq-small">No one is invited.</p>
      )}
      {error !== null ? (
        <p className="piq-error" role="alert" data-testid="piq-share-error">
          {error}
        </p>
      ) : null}
      <div className="piq-row">
        <label htmlFor={`${id}-link`}>Link</label>
        <input
          id={`${id}-link`}
          className="piq-input piq-grow"
          data-testid="piq-share-link"
          type="text"
          readOnly
          value={link ?? "no link: this kernel runs without a server"}
          onFocus={(event) => {
            event.target.select();
          }}
        />
        <button
          type="button"
          className="piq-button"
          data-testid="piq-share-copy"
          disabled={link === null}
          onClick={copy}
        >
          Copy link
        </button>
        <span role="status" className="piq-muted piq-small">
          {copied}
        </span>
      </div>
    </section>
  );
}
