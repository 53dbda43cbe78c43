// Draws a scene with 3Dmol.js: a prediction as a cartoon coloured by pLDDT (or by
// chain), a docking as its receptor with the chosen pose inside it; sticks and a
// surface on request. 3Dmol.js is handed in (loaded once per page by the host).
import type { GLModel, GLViewer } from "3dmol";
import { plddtColour, plddtScale } from "./plddt";
import { poseRecords, type StructureScene } from "./scene";

export type ThreeDmol = typeof import("3dmol");

export interface DrawOptions {
  modelIndex: number;
  pose: number;
  surface: boolean;
  sticks: boolean;
}

interface Atom {
  b?: number;
}

const RECEPTOR = { color: "#b8c4d6", opacity: 0.75 };
const LIGAND = { stick: { colorscheme: "greenCarbon", radius: 0.25 } };
const SURFACE = { opacity: 0.6, color: "white" };
/** Residues this close to the pose (Å) are drawn as sticks with the sticks toggle. */
const POCKET_A = 5;

export class SceneDrawing {
  private readonly viewer: GLViewer;
  private drawn: { modelIndex: number; pose: number } | null = null;

  constructor(
    private readonly lib: ThreeDmol,
    element: HTMLElement,
    private readonly scene: StructureScene,
    private readonly texts: ReadonlyMap<string, string>,
    background: string,
  ) {
    this.viewer = lib.createViewer(element, { backgroundColor: background });
  }

  /** Draws (again) with `options`; resolves once the canvas shows it. */
  async draw(options: DrawOptions): Promise<void> {
    const viewer = this.viewer;
    const same = this.drawn?.modelIndex === options.modelIndex;
    const view = this.drawn !== null ? viewer.getView() : null;
    viewer.removeAllSurfaces();
    viewer.removeAllModels();
    const structure = this.scene.structures[options.modelIndex] ?? this.scene.structures[0];
    if (structure === undefined) return;
    const main = viewer.addModel(this.text(structure.name), structure.format);
    let ligand: GLModel | null = null;
    if (this.scene.poses_file !== null) {
      main.setStyle({}, { cartoon: RECEPTOR });
      const records = poseRecords(this.text(this.scene.poses_file), options.pose);
      if (records !== "") {
        ligand = viewer.addModel(records, "sdf");
        ligand.setStyle({}, LIGAND);
        if (options.sticks) {
          main.setStyle(
            { within: { distance: POCKET_A, sel: { model: ligand } }, byres: true },
            { cartoon: RECEPTOR, stick: { radius: 0.15 } },
          );
        }
      }
    } else {
      const cartoon = this.cartoonStyle(main);
      const macromolecule = structure.format !== "sdf" && structure.format !== "mol2";
      main.setStyle({}, macromolecule ? { cartoon } : { stick: {} });
      main.setStyle({ hetflag: true }, { stick: {} });
      if (options.sticks && macromolecule) main.setStyle({}, { cartoon, stick: { radius: 0.15 } });
    }
    if (view !== null && same) {
      viewer.setView(view);
    } else if (ligand !== null) {
      viewer.zoomTo({ model: ligand });
      viewer.zoom(0.5);
    } else {
      viewer.zoomTo();
    }
    if (options.surface) {
      await viewer.addSurface(this.lib.SurfaceType.VDW, SURFACE, { model: main });
    }
    this.drawn = { modelIndex: options.modelIndex, pose: options.pose };
    await new Promise<void>((resolve) => {
      viewer.render(() => {
        resolve();
      });
    });
  }

  resize(): void {
    this.viewer.resize();
    this.viewer.render();
  }

  /** Follows the page's theme: the canvas takes its new background. */
  setBackground(colour: string): void {
    this.viewer.setBackgroundColor(colour, 1);
    this.viewer.render();
  }

  png(): string {
    return this.viewer.pngURI();
  }

  dispose(): void {
    this.viewer.clear();
  }

  private text(name: string): string {
    const text = this.texts.get(name);
    if (text === undefined) throw new Error(`the structure file ${name} is missing`);
    return text;
  }

  private cartoonStyle(model: GLModel): Record<string, unknown> {
    if (this.scene.colour !== "plddt") return { colorscheme: "chain" };
    const atoms = model.selectedAtoms({}) as Atom[];
    const scale = plddtScale(atoms.map((a) => a.b ?? 0));
    return { colorfunc: (atom: Atom) => plddtColour((atom.b ?? 0) * scale) };
  }
}
