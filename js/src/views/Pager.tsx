// First, Previous and Next under a paged list (jobs, files): the host turns pages
// through the server's cursor, so there is no page count to jump to.
export type PageTurn = "next" | "previous" | "first";

export interface PagerProps {
  /** The page shown, from 0. */
  page: number;
  hasMore: boolean;
  busy: boolean;
  label: string;
  onPage: (to: PageTurn) => void;
}

export function Pager({ page, hasMore, busy, label, onPage }: PagerProps): React.JSX.Element {
  const turns: { to: PageTurn; text: string; disabled: boolean }[] = [
    { to: "first", text: "First", disabled: busy || page === 0 },
    { to: "previous", text: "Previous", disabled: busy || page === 0 },
    { to: "next", text: "Next", disabled: busy || !hasMore },
  ];
  return (
    <nav className="piq-row piq-spread" aria-label={label}>
      <span>Page {page + 1}</span>
      <span className="piq-row">
        {turns.map((turn) => (
          <button
            key={turn.to}
            type="button"
            className="piq-button"
            disabled={turn.disabled}
            onClick={() => {
              onPage(turn.to);
            }}
          >
            {turn.text}
          </button>
        ))}
      </span>
    </nav>
  );
}
