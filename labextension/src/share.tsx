// The share dialog of a job (the shared ShareDialog view) in a JupyterLab dialog:
// visibility, invitations by email with their pending badges, the link to copy.
import { Dialog, showDialog } from "@jupyterlab/apputils";
import { ReactWidget } from "@jupyterlab/ui-components";
import { ShareDialog, type Job, type Outcome, type Share } from "@proteiniq/views";
import { useEffect, useState } from "react";
import { outcomeOf, type PiqApi } from "./api";

function ShareHost(props: { api: PiqApi; job: Job; onClose: () => void }): React.JSX.Element {
  const { api, job, onClose } = props;
  const [share, setShare] = useState<Share | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void api.share(job.id).then(setShare, (problem: unknown) => {
      setError(outcomeOf(problem).error);
    });
  }, [api, job.id]);
  const change = async (body: Record<string, unknown>): Promise<Outcome> => {
    try {
      setShare(await api.setShare(job.id, body));
      return { ok: true, error: null };
    } catch (problem) {
      return outcomeOf(problem);
    }
  };
  if (error !== null) return <p role="alert" className="piq-error">{error}</p>;
  if (share === null) return <p className="piq-muted" role="status">Loading sharing…</p>;
  return (
    <ShareDialog
      jobName={job.name}
      share={share}
      link={share.public_url ?? api.labLink(job.id)}
      onVisibility={(visibility) => change({ visibility })}
      onInvite={(emails) => change({ visibility: share.visibility, invite: emails })}
      onUninvite={(email) => change({ visibility: share.visibility, uninvite: [email] })}
      onClose={onClose}
      framed
    />
  );
}

export function openShareDialog(api: PiqApi, job: Job): void {
  let dialog: Dialog<unknown> | null = null;
  const body = ReactWidget.create(
    <ShareHost
      api={api}
      job={job}
      onClose={() => {
        dialog?.resolve(0);
      }}
    />,
  );
  const shown = showDialog({ title: `Share ${job.name}`, body, buttons: [Dialog.okButton({ label: "Done" })] });
  dialog = Dialog.tracker.currentWidget;
  void shown;
}
