// StructureView: a job's structures in 3D (3Dmol.js, loaded once per page).
import { useModel } from "@anywidget/react";
import { widget } from "../anywidget/render";
import { StructureFromModel } from "../anywidget/structure_model";

function StructureViewWidget(): React.JSX.Element {
  return <StructureFromModel model={useModel()} />;
}

export default widget(StructureViewWidget);
