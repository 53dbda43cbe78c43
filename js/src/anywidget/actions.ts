// The action protocol of every widget: the view sends
// {action, request, ...args}; the kernel answers {reply: request, ok, error, ...answer}.
import type { AnyModel } from "@anywidget/types";
import { useModel } from "@anywidget/react";
import { useCallback } from "react";

export interface Reply {
  reply: string;
  ok: boolean;
  error: string | null;
  [key: string]: unknown;
}

export type Call = (action: string, args?: Record<string, unknown>) => Promise<Reply>;

let counter = 0;

function isReply(message: unknown): message is Reply {
  return typeof message === "object" && message !== null && "reply" in message;
}

/** Sends one action and resolves with the kernel's reply (never rejects: a failure
 * comes back as `{ok: false, error}`, the message a person reads). */
export function callAction(
  model: AnyModel,
  action: string,
  args: Record<string, unknown> = {},
  timeoutMs = 120_000,
): Promise<Reply> {
  counter += 1;
  const request = `${Date.now().toString(36)}-${counter}`;
  return new Promise((resolve) => {
    const done = (reply: Reply): void => {
      window.clearTimeout(timer);
      model.off("msg:custom", listener);
      resolve(reply);
    };
    const listener = (message: unknown): void => {
      if (isReply(message) && message.reply === request) done(message);
    };
    const timer = window.setTimeout(() => {
      done({ reply: request, ok: false, error: "The kernel did not answer; is it still running?" });
    }, timeoutMs);
    model.on("msg:custom", listener);
    model.send({ ...args, action, request });
  });
}

/** `call(action, args)` bound to this widget's model. */
export function useCall(): Call {
  const model = useModel();
  return useCallback((action, args) => callAction(model, action, args), [model]);
}
