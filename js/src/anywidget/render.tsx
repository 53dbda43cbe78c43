// A widget entry point: the stylesheet once per page, then the React component.
import { createRender } from "@anywidget/react";
import type { AnyWidget } from "@anywidget/types";
import { ensureStyles } from "./styles";

export function widget(component: React.FC): AnyWidget {
  const render = createRender(component);
  return {
    render(props) {
      ensureStyles();
      return render(props);
    },
  };
}
