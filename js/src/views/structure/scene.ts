// The scene of a job's result as the API derives it (proteiniq_jupyter.api.scene):
// its structures, and a docking's poses over the receptor.
export interface SceneStructure {
  name: string;
  /** The 3Dmol.js format: pdb, cif, pdbqt, sdf, mol2. */
  format: string;
  label: string;
  rank: number | null;
  mean_plddt: number | null;
}

export interface ScenePose {
  rank: number;
  /** Vina affinity, kcal/mol. */
  affinity: number;
  ligand: string;
}

export interface StructureScene {
  object: "structure_scene";
  colour: "plddt" | "chain";
  structures: SceneStructure[];
  poses_file: string | null;
  poses: ScenePose[];
}

/** The SD records of one pose: those whose "> <pose>" data item is `rank`. */
export function poseRecords(sdf: string, rank: number): string {
  const chosen: string[] = [];
  for (const chunk of sdf.split(/^\$\$\$\$[ \t]*\r?$/m)) {
    const record = chunk.replace(/^\r?\n/, "");
    if (record.trim() === "") continue;
    const found = /^>\s*<pose>[^\n]*\n([^\n]*)/m.exec(record);
    if (found?.[1]?.trim() === String(rank)) chosen.push(`${record.replace(/\s+$/, "")}\n$$$$\n`);
  }
  return chosen.join("");
}

export function formatAffinity(affinity: number): string {
  return `${affinity.toFixed(2)} kcal/mol`;
}
