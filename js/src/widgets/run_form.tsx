// RunForm: a tool's run form in a notebook. The view's values go to the kernel as
// the `values` trait (debounced), which quotes them again; Run submits them.
import { useModel, useModelState } from "@anywidget/react";
import { useCall } from "../anywidget/actions";
import { widget } from "../anywidget/render";
import { JobProgress } from "../views/JobProgress";
import { RunForm } from "../views/RunForm";
import type { JobQuote, RunValues, ToolDetail } from "../views/formTypes";
import type { Job } from "../views/types";

function RunFormWidget(): React.JSX.Element {
  const model = useModel();
  const [tool] = useModelState<ToolDetail>("tool");
  const [values] = useModelState<RunValues>("values");
  const [quote] = useModelState<JobQuote | null>("quote");
  const [error] = useModelState<string | null>("error");
  const [busy] = useModelState<string | null>("busy");
  const [submitted] = useModelState<Job | null>("submitted");
  const [link] = useModelState<string | null>("link");
  const call = useCall();
  return (
    <RunForm
      tool={tool}
      values={values}
      quote={quote}
      error={error}
      quoting={busy === "quoting"}
      job={submitted}
      onValues={(next) => {
        model.set("values", next);
        model.save_changes();
      }}
      onSubmit={(next) => call("submit", { values: next })}
      renderJob={(job) => <JobProgress job={job} link={link} onCancel={() => call("cancel")} />}
    />
  );
}

export default widget(RunFormWidget);
