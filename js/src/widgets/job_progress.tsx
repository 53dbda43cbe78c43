// JobProgress: the live progress of one job, fed by the kernel's event hub.
import { useModelState } from "@anywidget/react";
import { useCall } from "../anywidget/actions";
import { widget } from "../anywidget/render";
import { JobProgress } from "../views/JobProgress";
import type { Job } from "../views/types";

function JobProgressWidget(): React.JSX.Element {
  const [job] = useModelState<Job>("job");
  const [link] = useModelState<string | null>("link");
  const call = useCall();
  return <JobProgress job={job} link={link} onCancel={() => call("cancel")} />;
}

export default widget(JobProgressWidget);
