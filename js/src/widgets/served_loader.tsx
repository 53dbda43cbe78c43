// The `_esm` a widget saves in a notebook: not its bundle (React and the views,
// some 150 kB in every saved widget) but this loader, which imports the bundle the
// server extension serves ({base_url}static/proteiniq/widgets/<bundle>), once per
// page, or where there is no server asks the kernel for it once. The kernel puts
// the bundle's name first: `const __PIQ_BUNDLE__ = "structure_view.js?v=...";`.
import type { AnyModel, Initialize, Render } from "@anywidget/types";
import { pageBaseUrl, servedUrl } from "../anywidget/page";

declare const __PIQ_BUNDLE__: string;

interface Widget {
  initialize?: Initialize;
  render?: Render;
}

interface Reply {
  reply?: unknown;
  ok?: unknown;
  error?: unknown;
  esm?: unknown;
}

declare global {
  interface Window {
    __proteiniqBundles?: Map<string, Promise<Widget>>;
  }
}

/** One load per bundle and page, whichever widget asks first. */
const loads = (window.__proteiniqBundles ??= new Map<string, Promise<Widget>>());

async function importWidget(url: string): Promise<Widget> {
  const module = (await import(/* @vite-ignore */ url)) as { default: Widget };
  return module.default;
}

function fromKernel(model: AnyModel): Promise<Widget> {
  const request = `bundle-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return new Promise<string>((resolve, reject) => {
    const listener = (message: Reply): void => {
      if (message.reply !== request) return;
      model.off("msg:custom", listener);
      if (message.ok === true && typeof message.esm === "string") resolve(message.esm);
      else reject(new Error(typeof message.error === "string" ? message.error : "the kernel did not send the view"));
    };
    model.on("msg:custom", listener);
    model.send({ action: "bundle", request });
  }).then(async (esm) => {
    const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
    try {
      return await importWidget(url);
    } finally {
      URL.revokeObjectURL(url);
    }
  });
}

function load(model: AnyModel): Promise<Widget> {
  let loading = loads.get(__PIQ_BUNDLE__);
  if (loading === undefined) {
    const base = pageBaseUrl();
    loading = (base === null ? Promise.reject(new Error("no server")) : importWidget(servedUrl(base, `widgets/${__PIQ_BUNDLE__}`))).catch(() =>
      fromKernel(model),
    );
    loads.set(__PIQ_BUNDLE__, loading);
    loading.catch(() => loads.delete(__PIQ_BUNDLE__));
  }
  return loading;
}

const loader: Widget = {
  async initialize(props) {
    const widget = await load(props.model);
    return widget.initialize?.(props);
  },
  async render(props) {
    const widget = await load(props.model);
    return widget.render?.(props);
  },
};

export default loader;
