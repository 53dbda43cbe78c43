// The views, for hosts other than the notebook widgets (the JupyterLab extension).
export { ConfirmButton } from "./views/ConfirmButton";
export { JobProgress, cancelConsequence } from "./views/JobProgress";
export { JobTable, sortRows } from "./views/JobTable";
export type { Column, Filters, RowAction, Sort } from "./views/JobTable";
export { RowMenu, copyText, downloadFile } from "./views/RowMenu";
export { StatusBadge } from "./views/StatusBadge";
export * from "./views/format";
export * from "./views/types";
export { BatchView, retryable } from "./views/BatchView";
export type { BatchViewProps } from "./views/BatchView";
export { RunForm, acceptedFiles, costText } from "./views/RunForm";
export type { RunFormProps } from "./views/RunForm";
export { ShareDialog, VISIBILITIES, emailsIn } from "./views/ShareDialog";
export type { ShareDialogProps } from "./views/ShareDialog";
export { SchemaField, parseSetting, resolveProperty, settingText } from "./views/schemaField";
export type * from "./views/formTypes";
