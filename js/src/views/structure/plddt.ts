// pLDDT as AlphaFold's database colours it: four bands, each with its name, so a
// legend tells the colours in words too.
export interface Band {
  /** Lowest pLDDT of the band (0-100). */
  from: number;
  colour: string;
  label: string;
}

export const PLDDT_BANDS: readonly Band[] = [
  { from: 90, colour: "#0053d6", label: "Very high (pLDDT > 90)" },
  { from: 70, colour: "#65cbf3", label: "Confident (90 > pLDDT > 70)" },
  { from: 50, colour: "#ffdb13", label: "Low (70 > pLDDT > 50)" },
  { from: 0, colour: "#ff7d45", label: "Very low (pLDDT < 50)" },
];

export function plddtColour(plddt: number): string {
  for (const band of PLDDT_BANDS) if (plddt > band.from || band.from === 0) return band.colour;
  return PLDDT_BANDS[PLDDT_BANDS.length - 1]?.colour ?? "#ff7d45";
}

/** The factor that puts a file's B-factors on 0-100: some writers keep pLDDT on 0-1. */
export function plddtScale(bFactors: readonly number[]): number {
  let max = 0;
  for (const b of bFactors) if (b > max) max = b;
  return max > 0 && max <= 1 ? 100 : 1;
}
