// JobTable: pages of the workspace's jobs, read through the kernel's client.
import { useModelState } from "@anywidget/react";
import { useCall } from "../anywidget/actions";
import { widget } from "../anywidget/render";
import { useTableShareDialog } from "../anywidget/tableShare";
import { JobTable } from "../views/JobTable";
import type { Sort } from "../views/JobTable";
import type { Job } from "../views/types";

function JobTableWidget(): React.JSX.Element {
  const [rows] = useModelState<Job[]>("rows");
  const [page] = useModelState<number>("page");
  const [hasMore] = useModelState<boolean>("has_more");
  const [tool] = useModelState<string>("tool");
  const [status] = useModelState<string[]>("status");
  const [search] = useModelState<string>("search");
  const [tools] = useModelState<string[]>("tools");
  const [sort] = useModelState<Sort>("sort");
  const call = useCall();
  const sharing = useTableShareDialog(call);
  return (
    <>
      <JobTable
      rows={rows}
      page={page}
      hasMore={hasMore}
      filters={{ tool, status, search }}
      tools={tools}
      sort={sort}
      onSort={({ column, descending }) => call("sort", { column, descending })}
      onFilters={(filters) => call("query", { ...filters })}
      onPage={(to) => call("page", { to })}
      onRow={(job, { action, ...args }) => call(action, { job: job.id, ...args })}
      onShareDialog={sharing.open}
      />
      {sharing.error !== null && (
        <p role="alert" className="piq-error">
          {sharing.error}
        </p>
      )}
      {sharing.dialog}
    </>
  );
}

export default widget(JobTableWidget);
