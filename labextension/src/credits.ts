// The status bar's credits item: the workspace's available credits, read again
// when a job's charge or status changes (the stream carries no balance).
import { Widget } from "@lumino/widgets";
import type { PiqApi } from "./api";
import type { EventHub, LiveEvent } from "./events";

export function creditsText(available: number): string {
  return `Credits: ${available.toLocaleString(undefined, { maximumFractionDigits: 2 })}`;
}

export class CreditsItem extends Widget {
  private timer: number | null = null;

  constructor(
    private readonly api: PiqApi,
    hub: EventHub,
  ) {
    super();
    this.addClass("piq-lab-credits");
    this.node.setAttribute("role", "status");
    this.node.setAttribute("aria-live", "polite");
    this.node.textContent = "Credits: …";
    hub.event.connect((_, event) => {
      this.onEvent(event);
    });
    hub.connected.connect((_, open) => {
      if (open) this.refresh();
    });
    this.refresh();
  }

  private onEvent(event: LiveEvent): void {
    if (event.kind !== "status" && event.kind !== "created") return;
    // One read for a burst of events.
    if (this.timer !== null) return;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, 250);
  }

  refresh(): void {
    void this.api.account().then(
      (account) => {
        this.node.textContent = creditsText(account.workspace.credits.available);
        this.node.title = `Credits available to ${account.workspace.name}`;
      },
      () => {
        this.node.textContent = "Credits: unknown";
      },
    );
  }
}
