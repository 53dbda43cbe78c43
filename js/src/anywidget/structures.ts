// The structure files a widget's state carries: gzip-compressed binary buffers.
import type { StructureScene } from "../views/structure/scene";

async function gunzip(data: DataView | ArrayBuffer | Uint8Array): Promise<string> {
  const view =
    data instanceof DataView ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  const bytes = new Uint8Array(view.byteLength);
  bytes.set(view);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

export type Compressed = Record<string, DataView | ArrayBuffer | Uint8Array>;

export async function readStructures(scene: StructureScene, files: Compressed): Promise<Map<string, string>> {
  const names = scene.structures.map((s) => s.name);
  if (scene.poses_file !== null) names.push(scene.poses_file);
  const texts = new Map<string, string>();
  for (const name of names) {
    const data = files[name];
    if (data === undefined) throw new Error(`the structure file ${name} is not in the widget's state`);
    texts.set(name, await gunzip(data));
  }
  return texts;
}
