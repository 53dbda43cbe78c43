// The views, for hosts other than the notebook widgets (the JupyterLab extension).
export { ConfirmButton } from "./views/ConfirmButton";
export { JobProgress, cancelConsequence } from "./views/JobProgress";
export { StatusBadge } from "./views/StatusBadge";
export * from "./views/format";
export * from "./views/types";
