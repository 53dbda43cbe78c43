// The job table: a page of jobs with filters, sorting, paging and a menu per row.
// The host (a widget, the lab extension) does the reading and the changes; a header
// asks it for the first page of the whole history in that column's order.
import { Fragment, useEffect, useRef, useState } from "react";
import { Pager, type PageTurn } from "./Pager";
import { RowMenu, menuButtonId } from "./RowMenu";
import { StatusBadge } from "./StatusBadge";
import { formatDuration, formatJobCredits, formatTime, statusLabel } from "./format";
import type { Job, Outcome } from "./types";
import { ALL_STATUSES } from "./types";

/** The orders the server reads the whole history in (proteiniq_jupyter/jobs/sorting.py). */
export type Column = "name" | "status" | "duration_s" | "tool" | "submitter" | "credits" | "created_at";

export interface Sort {
  column: Column;
  descending: boolean;
}

/** Newest first, as the server lists jobs when not asked otherwise. */
export const DEFAULT_SORT: Sort = { column: "created_at", descending: true };

/** A header's first click: newest first for the creation time, smallest first otherwise. */
export function firstDirection(column: Column): boolean {
  return column === "created_at";
}

/** What a click on a column's header asks for: its first direction, then the other,
 *  then the history newest first again (in a narrow place Created is folded away). */
export function nextSort(current: Sort, column: Column): Sort {
  if (current.column !== column) return { column, descending: firstDirection(column) };
  if (column !== DEFAULT_SORT.column && current.descending !== firstDirection(column)) return DEFAULT_SORT;
  return { column, descending: !current.descending };
}

/** The query parameters of a sort (none for the default order). */
export function sortParams(sort: Sort): Record<string, string> {
  if (sort.column === DEFAULT_SORT.column && sort.descending === DEFAULT_SORT.descending) return {};
  return { sort: sort.column, order: sort.descending ? "desc" : "asc" };
}

export interface Filters {
  tool: string;
  status: string[];
  search: string;
}

/** What a row's menu asks of the host. */
export type RowAction =
  | { action: "rename"; name: string }
  | { action: "delete" }
  | { action: "retry" }
  | { action: "duplicate" }
  | { action: "export"; format: "csv" | "json" }
  | { action: "share"; visibility: string }
  | { action: "link" };

export interface JobTableProps {
  rows: Job[];
  page: number;
  hasMore: boolean;
  filters: Filters;
  tools: string[];
  /** The order of the whole history the rows come in (the host reads pages in it). */
  sort: Sort;
  onSort: (sort: Sort) => Promise<Outcome>;
  onFilters: (filters: Filters) => Promise<Outcome>;
  onPage: (to: PageTurn) => Promise<Outcome>;
  onRow: (job: Job, action: RowAction) => Promise<Outcome>;
  /** Opens the host's share dialog for the job, where it has one. */
  onShareDialog?: (job: Job) => void;
  /** Opens the host's form to change a job's settings before its duplicate runs. */
  onDuplicateDialog?: (job: Job) => void;
  /** Opens the job's detail, where the host has one: the name becomes a link. */
  onOpen?: (job: Job) => void;
  /** The address of the job's page (the link's target in a new tab). */
  linkFor?: (job: Job) => string;
}

function JobName(props: { job: Job; onOpen?: (job: Job) => void; linkFor?: (job: Job) => string }): React.JSX.Element {
  const { job, onOpen, linkFor } = props;
  if (onOpen === undefined) return <>{job.name}</>;
  return (
    <a
      className="piq-job-link"
      href={linkFor?.(job) ?? "#"}
      onClick={(event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        onOpen(job);
      }}
    >
      {job.name}
    </a>
  );
}

/** The columns; in a narrow place (JupyterLab's sidebar) the ``wide`` ones fold
 *  into a line under the job's name (views.css). */
const COLUMNS: { column: Column; label: string; wide?: true }[] = [
  { column: "name", label: "Name" },
  { column: "status", label: "Status" },
  { column: "duration_s", label: "Duration", wide: true },
  { column: "tool", label: "Tool", wide: true },
  { column: "submitter", label: "Submitter", wide: true },
  { column: "credits", label: "Credits", wide: true },
  { column: "created_at", label: "Created", wide: true },
];
const WIDE = "piq-col-wide";

/** Waits `ms` after the last change of `value` before giving it. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => {
      setSettled(value);
    }, ms);
    return () => {
      window.clearTimeout(timer);
    };
  }, [value, ms]);
  return settled;
}

export function JobTable(props: JobTableProps): React.JSX.Element {
  const { filters, onFilters } = props;
  const [search, setSearch] = useState(filters.search);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const settledSearch = useSettled(search, 300);
  const rows = props.rows;
  const sent = useRef(filters.search);
  const [menuFor, setMenuFor] = useState<string | null>(null);
  const closeMenu = (job: Job): void => {
    setMenuFor(null);
    document.getElementById(menuButtonId(job))?.focus();
  };

  const run = (work: Promise<Outcome>, done?: (outcome: Outcome) => void): void => {
    setBusy(true);
    setError(null);
    void work.then((outcome) => {
      setBusy(false);
      if (!outcome.ok) setError(outcome.error ?? "That did not work.");
      else done?.(outcome);
    });
  };

  useEffect(() => {
    if (settledSearch === sent.current) return;
    sent.current = settledSearch;
    run(onFilters({ ...filters, search: settledSearch }));
    // Only a settled search sends; the filters it goes with are the current ones.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settledSearch]);

  const setSort = (column: Column): void => {
    run(props.onSort(nextSort(props.sort, column)));
  };

  const status = filters.status[0] ?? "";
  return (
    <section className="piq-view piq-table-view" aria-label="Jobs">
      <div className="piq-row" role="search">
        <label className="piq-row">
          <span>Search</span>
          <input
            className="piq-input"
            type="search"
            value={search}
            placeholder="Job name"
            onChange={(event) => {
              setSearch(event.target.value);
            }}
          />
        </label>
        <label className="piq-row">
          <span>Tool</span>
          <select
            className="piq-select"
            value={filters.tool}
            onChange={(event) => {
              run(onFilters({ ...filters, tool: event.target.value }));
            }}
          >
            <option value="">Any tool</option>
            {props.tools.map((tool) => (
              <option key={tool} value={tool}>
                {tool}
              </option>
            ))}
          </select>
        </label>
        <label className="piq-row">
          <span>Status</span>
          <select
            className="piq-select"
            value={status}
            onChange={(event) => {
              const value = event.target.value;
              run(onFilters({ ...filters, status: value === "" ? [] : [value] }));
            }}
          >
            <option value="">Any status</option>
            {ALL_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </label>
        {busy && <span className="piq-muted" role="status">Loading…</span>}
      </div>
      {error !== null && (
        <p role="alert" className="piq-error">
          {error}
        </p>
      )}
      {notice !== null && (
        <p role="status" className="piq-muted">
          {notice}
        </p>
      )}
      <div className="piq-table-scroll">
        <table className="piq-table">
          <caption className="piq-visually-hidden">
            Jobs, page {props.page + 1}; column headers sort the whole history, not only this page
          </caption>
          <thead>
            <tr>
              {COLUMNS.map(({ column, label, wide }) => {
                const active = props.sort.column === column;
                return (
                  <th
                    key={column}
                    scope="col"
                    className={wide === true ? WIDE : undefined}
                    aria-sort={active ? (props.sort.descending ? "descending" : "ascending") : "none"}
                  >
                    <button
                      type="button"
                      className="piq-sort"
                      onClick={() => {
                        setSort(column);
                      }}
                    >
                      {label}
                      <span aria-hidden="true">{active ? (props.sort.descending ? " ▼" : " ▲") : ""}</span>
                    </button>
                  </th>
                );
              })}
              <th scope="col">
                <span className="piq-visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length + 1} className="piq-muted">
                  No jobs match.
                </td>
              </tr>
            )}
            {rows.map((job) => (
              <Fragment key={job.id}>
                <tr data-job={job.id}>
                  <td>
                    <JobName job={job} onOpen={props.onOpen} linkFor={props.linkFor} />
                  </td>
                  <td>
                    <StatusBadge status={job.status} />
                    {job.status === "PROCESSING" && (
                      <span className="piq-muted"> {Math.round(job.progress * 100)}%</span>
                    )}
                  </td>
                  <td className={WIDE}>{formatDuration(job.duration_s)}</td>
                  <td className={WIDE}>{job.tool}</td>
                  <td className={WIDE}>{job.submitter.username ?? job.submitter.id}</td>
                  <td className={WIDE}>{formatJobCredits(job.credits)}</td>
                  <td className={WIDE}>{formatTime(job.created_at)}</td>
                  <td>
                    <button
                      id={menuButtonId(job)}
                      type="button"
                      className="piq-button"
                      aria-haspopup="menu"
                      aria-expanded={menuFor === job.id}
                      aria-label={`Actions for ${job.name}`}
                      onClick={() => {
                        if (menuFor === job.id) closeMenu(job);
                        else setMenuFor(job.id);
                      }}
                    >
                      ⋯
                    </button>
                  </td>
                </tr>
                <tr className="piq-row-meta" data-meta-for={job.id}>
                  <td colSpan={COLUMNS.length + 1} className="piq-muted piq-small">
                    {[
                      job.tool,
                      job.submitter.username ?? job.submitter.id,
                      formatJobCredits(job.credits),
                      formatTime(job.created_at),
                    ].join(" · ")}
                  </td>
                </tr>
                {menuFor === job.id && (
                  <tr className="piq-menu-row" data-menu-for={job.id}>
                    <td colSpan={COLUMNS.length + 1}>
                      <RowMenu
                        job={job}
                        onClose={() => {
                          closeMenu(job);
                        }}
                        onAction={(action) => props.onRow(job, action)}
                        onShareDialog={props.onShareDialog}
                        onDuplicateDialog={props.onDuplicateDialog}
                        onNotice={setNotice}
                      />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <Pager
        page={props.page}
        hasMore={props.hasMore}
        busy={busy}
        label="Pages"
        onPage={(to) => {
          run(props.onPage(to));
        }}
      />
    </section>
  );
}
