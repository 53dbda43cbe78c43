// BatchView: a batch in a notebook (`piq.batch(id)`, `piq.run_batch(...)`).
import { useModelState } from "@anywidget/react";
import { useCall } from "../anywidget/actions";
import { widget } from "../anywidget/render";
import { BatchView } from "../views/BatchView";
import type { Batch } from "../views/formTypes";
import type { Job } from "../views/types";

function BatchViewWidget(): React.JSX.Element {
  const [batch] = useModelState<Batch>("batch");
  const [jobs] = useModelState<Job[]>("jobs");
  const call = useCall();
  return (
    <BatchView
      batch={batch}
      jobs={jobs}
      onRetryFailed={() => call("retry_failed")}
      onCancel={() => call("cancel")}
    />
  );
}

export default widget(BatchViewWidget);
