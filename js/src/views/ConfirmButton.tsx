// A button that asks before it acts: the question and its consequences in an inline
// dialog, confirm or keep, reachable by keyboard (Escape keeps).
import { useEffect, useId, useRef, useState } from "react";

export interface ConfirmButtonProps {
  label: string;
  /** The question, and what follows from saying yes. */
  question: string;
  detail: string;
  confirmLabel: string;
  keepLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => void;
}

export function ConfirmButton(props: ConfirmButtonProps): React.JSX.Element {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const openerRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const detailId = useId();
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  const keep = (): void => {
    setAsking(false);
    openerRef.current?.focus();
  };
  return (
    <span className="piq-confirm">
      <button
        ref={openerRef}
        type="button"
        className={props.danger === true ? "piq-button piq-danger" : "piq-button"}
        disabled={props.disabled}
        aria-expanded={asking}
        onClick={() => {
          setAsking(true);
        }}
      >
        {props.label}
      </button>
      {asking && (
        <div
          role="alertdialog"
          aria-labelledby={titleId}
          aria-describedby={detailId}
          className="piq-dialog"
          onKeyDown={(event) => {
            if (event.key === "Escape") keep();
          }}
        >
          <p id={titleId} className="piq-dialog-title">
            {props.question}
          </p>
          <p id={detailId}>{props.detail}</p>
          <div className="piq-row">
            <button
              ref={confirmRef}
              type="button"
              className={props.danger === true ? "piq-button piq-danger" : "piq-button"}
              onClick={() => {
                setAsking(false);
                props.onConfirm();
              }}
            >
              {props.confirmLabel}
            </button>
            <button type="button" className="piq-button" onClick={keep}>
              {props.keepLabel ?? "Keep it"}
            </button>
          </div>
        </div>
      )}
    </span>
  );
}
