// The proteiniq JupyterLab extension: the Jobs panel in the left sidebar, job details
// in the main area, deep links on ?jobId=, notifications, credits in the status bar,
// commands and a launcher card. One REST client and one event stream per page.
import { ILabShell, IRouter, type JupyterFrontEnd, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette, InputDialog, WidgetTracker } from "@jupyterlab/apputils";
import { ILauncher } from "@jupyterlab/launcher";
import { IStatusBar } from "@jupyterlab/statusbar";
import { listIcon } from "@jupyterlab/ui-components";
import type { Job } from "@proteiniq/views";
import { PiqApi } from "./api";
import { CreditsItem } from "./credits";
import { JobDetailWidget } from "./detail";
import { EventHub } from "./events";
import { notifyEndings } from "./notifications";
import { JobsPanel } from "./panel";
import { openShareDialog } from "./share";

const PLUGIN_ID = "@proteiniq/labextension:plugin";

export const COMMANDS = {
  openPanel: "proteiniq:open-jobs",
  openJob: "proteiniq:open-job",
  route: "proteiniq:route-job",
};

/** A job id as the server makes them (letters, digits, _ and -). */
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

function activate(
  app: JupyterFrontEnd,
  labShell: ILabShell,
  router: IRouter,
  palette: ICommandPalette | null,
  launcher: ILauncher | null,
  statusBar: IStatusBar | null,
): void {
  const api = new PiqApi();
  const hub = new EventHub(api);
  const tracker = new WidgetTracker<JobDetailWidget>({ namespace: "proteiniq-job" });

  const openJob = (id: string): void => {
    const open = tracker.find((widget) => widget.jobId === id);
    if (open !== undefined) {
      labShell.activateById(open.id);
      return;
    }
    const widget = new JobDetailWidget(api, hub, id);
    void tracker.add(widget);
    labShell.add(widget, "main");
    labShell.activateById(widget.id);
  };

  const panel = new JobsPanel({
    api,
    hub,
    openJob,
    openShare: (job: Job) => {
      openShareDialog(api, job);
    },
    openDuplicate: (job: Job) => {
      void api.act(job.id, "duplicate").then((copy) => {
        openJob(copy.id);
      });
    },
  });
  panel.title.icon = listIcon;
  panel.title.caption = "Jobs";
  labShell.add(panel, "left", { rank: 600 });

  app.commands.addCommand(COMMANDS.openPanel, {
    label: "Show the Jobs panel",
    icon: listIcon,
    execute: () => {
      labShell.activateById(panel.id);
    },
  });
  app.commands.addCommand(COMMANDS.openJob, {
    label: (args) => (typeof args.id === "string" ? `Open job ${args.id}` : "Open a job by id…"),
    execute: async (args) => {
      let id = typeof args.id === "string" ? args.id : null;
      if (id === null) {
        const answer = await InputDialog.getText({ title: "Open a job", label: "Job id", placeholder: "job_…" });
        id = answer.button.accept ? (answer.value ?? "").trim() : null;
      }
      if (id !== null && id !== "") openJob(id);
    },
  });
  // {base_url}lab?jobId=ID opens the job.
  app.commands.addCommand(COMMANDS.route, {
    execute: (args) => {
      const search = typeof args.search === "string" ? args.search : "";
      const id = new URLSearchParams(search).get("jobId");
      if (id !== null && JOB_ID.test(id)) {
        void app.restored.then(() => {
          openJob(id);
        });
      }
    },
  });
  router.register({ command: COMMANDS.route, pattern: /[?&]jobId=/, rank: 20 });

  palette?.addItem({ command: COMMANDS.openPanel, category: "ProteinIQ" });
  palette?.addItem({ command: COMMANDS.openJob, category: "ProteinIQ" });
  launcher?.add({ command: COMMANDS.openPanel, category: "Other", rank: 1 });

  if (statusBar !== null) {
    statusBar.registerStatusItem("@proteiniq/labextension:credits", {
      item: new CreditsItem(api, hub),
      align: "left",
      rank: 50,
    });
  }
  notifyEndings(api, hub, openJob);
  hub.start();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "ProteinIQ jobs in JupyterLab: the Jobs panel, job details, deep links, notifications and credits.",
  autoStart: true,
  requires: [ILabShell, IRouter],
  optional: [ICommandPalette, ILauncher, IStatusBar],
  activate,
};

export default plugin;
