// A widget entry point: the stylesheet once per page, then the React component.
import { createRender } from "@anywidget/react";
import type { AnyWidget } from "@anywidget/types";
import { ensureStyles } from "./styles";

export function widget(component: React.FC): AnyWidget {
  const render = createRender(component);
  return {
    render(props) {
      ensureStyles();
      // Keys typed in a widget are the widget's: JupyterLab's notebook shortcuts
      // (Enter to edit a cell, arrows to move between cells) leave them alone.
      props.el.setAttribute("data-lm-suppress-shortcuts", "true");
      return render(props);
    },
  };
}
