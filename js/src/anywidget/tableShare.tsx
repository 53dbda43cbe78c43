// The share dialog a job table opens from a row's menu: it reads the job's sharing
// and changes it through the table widget's `share` action.
import { useState } from "react";
import type { Call, Reply } from "./actions";
import { ShareDialog } from "../views/ShareDialog";
import type { Share } from "../views/formTypes";
import type { Job } from "../views/types";

interface Open {
  job: Job;
  share: Share;
  link: string | null;
}

export function useTableShareDialog(call: Call): {
  open: (job: Job) => void;
  dialog: React.JSX.Element | null;
  error: string | null;
} {
  const [shown, setShown] = useState<Open | null>(null);
  const [error, setError] = useState<string | null>(null);
  const take = (job: Job, reply: Reply): Reply => {
    if (reply.ok) {
      setShown({ job, share: reply.share as Share, link: (reply.link as string | null) ?? null });
    }
    return reply;
  };
  const open = (job: Job): void => {
    setError(null);
    void call("share", { job: job.id }).then((reply) => {
      if (!reply.ok) setError(reply.error);
      take(job, reply);
    });
  };
  const change = (args: Record<string, unknown>): Promise<Reply> => {
    if (shown === null) return Promise.resolve({ reply: "", ok: false, error: "No job is open." });
    const job = shown.job;
    return call("share", { job: job.id, ...args }).then((reply) => take(job, reply));
  };
  const dialog =
    shown === null ? null : (
      <ShareDialog
        jobName={shown.job.name}
        share={shown.share}
        link={shown.link}
        onVisibility={(visibility) => change({ visibility })}
        onInvite={(emails) => change({ invite: emails })}
        onUninvite={(email) => change({ uninvite: [email] })}
        onClose={() => {
          setShown(null);
        }}
      />
    );
  return { open, dialog, error };
}
