// ShareDialog: who may see a job, in a notebook (`job.share_dialog()`).
import { useModelState } from "@anywidget/react";
import { useCall } from "../anywidget/actions";
import { widget } from "../anywidget/render";
import { ShareDialog } from "../views/ShareDialog";
import type { Share } from "../views/formTypes";
import type { Job } from "../views/types";

function ShareDialogWidget(): React.JSX.Element {
  const [job] = useModelState<Job>("job");
  const [share] = useModelState<Share>("share");
  const [link] = useModelState<string | null>("link");
  const call = useCall();
  return (
    <ShareDialog
      jobName={job.name}
      share={share}
      link={link}
      onVisibility={(visibility) => call("visibility", { visibility })}
      onInvite={(emails) => call("invite", { emails })}
      onUninvite={(email) => call("uninvite", { email })}
    />
  );
}

export default widget(ShareDialogWidget);
