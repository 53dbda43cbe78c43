// The views, for hosts other than the notebook widgets (the JupyterLab extension).
export { ConfirmButton } from "./views/ConfirmButton";
export { JobProgress, cancelConsequence } from "./views/JobProgress";
export { JobTable, sortRows } from "./views/JobTable";
export type { Column, Filters, RowAction, Sort } from "./views/JobTable";
export { RowMenu, copyText, downloadFile } from "./views/RowMenu";
export { StatusBadge } from "./views/StatusBadge";
export * from "./views/format";
export * from "./views/types";
