// The proteiniq JupyterLab extension: the Jobs panel in the left sidebar, job and
// batch details, the Files view and the duplicate form in the main area, deep links
// on ?jobId= and ?batchId=, notifications, credits in the status bar, commands and
// launcher cards. One REST client and one event stream per page.
import { ILabShell, IRouter, type JupyterFrontEnd, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette, InputDialog, WidgetTracker } from "@jupyterlab/apputils";
import { ILauncher } from "@jupyterlab/launcher";
import { IStatusBar } from "@jupyterlab/statusbar";
import { folderIcon, listIcon } from "@jupyterlab/ui-components";
import type { Widget } from "@lumino/widgets";
import type { Job } from "@proteiniq/views";
import { PiqApi } from "./api";
import { BatchDetailWidget } from "./batch";
import { CreditsItem } from "./credits";
import { JobDetailWidget } from "./detail";
import { DuplicateWidget } from "./duplicate";
import { EventHub } from "./events";
import { FilesWidget } from "./files";
import { notifyEndings } from "./notifications";
import { JobsPanel } from "./panel";
import { openShareDialog } from "./share";

const PLUGIN_ID = "@proteiniq/labextension:plugin";

export const COMMANDS = {
  openPanel: "proteiniq:open-jobs",
  openJob: "proteiniq:open-job",
  openBatch: "proteiniq:open-batch",
  openFiles: "proteiniq:open-files",
  route: "proteiniq:route-job",
};

/** A job's or batch's id as the server makes them (letters, digits, _ and -). */
const ID = /^[A-Za-z0-9_-]{1,100}$/;

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
  const tracker = new WidgetTracker<Widget>({ namespace: "proteiniq" });

  /** The main-area widget of this id, made by `make` unless it is open already. */
  const show = (id: string, make: () => Widget): void => {
    const widget = tracker.find((open) => open.id === id) ?? make();
    if (!tracker.has(widget)) {
      void tracker.add(widget);
      labShell.add(widget, "main");
    }
    labShell.activateById(widget.id);
  };
  const openBatch = (id: string): void => {
    show(`proteiniq-batch-${id}`, () => new BatchDetailWidget(api, hub, id, openJob));
  };
  function openJob(id: string): void {
    show(`proteiniq-job-${id}`, () => new JobDetailWidget(api, hub, id, openBatch));
  }
  const openFiles = (): void => {
    show("proteiniq-files", () => new FilesWidget(api, hub, openJob));
  };

  const panel = new JobsPanel({
    api,
    hub,
    openJob,
    openShare: (job: Job) => {
      openShareDialog(api, job);
    },
    openDuplicate: (job: Job) => {
      show(`proteiniq-duplicate-${job.id}`, () => new DuplicateWidget(api, job.id, job.name, openJob));
    },
    openBatch,
    openFiles,
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
  app.commands.addCommand(COMMANDS.openBatch, {
    label: (args) => (typeof args.id === "string" ? `Open batch ${args.id}` : "Open a batch"),
    execute: (args) => {
      if (typeof args.id === "string" && ID.test(args.id)) openBatch(args.id);
    },
  });
  app.commands.addCommand(COMMANDS.openFiles, {
    label: "Show the files of the jobs",
    icon: folderIcon,
    execute: openFiles,
  });
  // {base_url}lab?jobId=ID opens the job, ?batchId=ID the batch.
  app.commands.addCommand(COMMANDS.route, {
    execute: (args) => {
      const query = new URLSearchParams(typeof args.search === "string" ? args.search : "");
      const job = query.get("jobId");
      const batch = query.get("batchId");
      void app.restored.then(() => {
        if (job !== null && ID.test(job)) openJob(job);
        if (batch !== null && ID.test(batch)) openBatch(batch);
      });
    },
  });
  router.register({ command: COMMANDS.route, pattern: /[?&](jobId|batchId)=/, rank: 20 });

  palette?.addItem({ command: COMMANDS.openPanel, category: "ProteinIQ" });
  palette?.addItem({ command: COMMANDS.openJob, category: "ProteinIQ" });
  palette?.addItem({ command: COMMANDS.openFiles, category: "ProteinIQ" });
  launcher?.add({ command: COMMANDS.openPanel, category: "Other", rank: 1 });
  launcher?.add({ command: COMMANDS.openFiles, category: "Other", rank: 2 });

  if (statusBar !== null) {
    statusBar.registerStatusItem("@proteiniq/labextension:credits", {
      item: new CreditsItem(api, hub),
      align: "left",
      rank: 50,
    });
  }
  notifyEndings(api, hub, openJob, () => {
    labShell.activateById(panel.id);
  });
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
