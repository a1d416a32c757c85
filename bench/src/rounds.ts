/**
 * Alternating rounds with an untimed reset after every run: the image and
 * CRI benchmarks have to put each system back where it started (the image
 * removed and collected, the pods removed) without timing that part.
 */
import os from "node:os";

export interface Resettable {
  /** The timed part. */
  once(): Promise<void>;
  /** Untimed: what makes the next `once` start from the same state. */
  reset?(): Promise<void>;
}

/**
 * Each system once per round, the order rotated every round (A B C, B C A, ...), after
 * `warmup` unrecorded rounds; the samples (ms) per system.
 */
export async function alternateWithReset(
  systems: Record<string, Resettable>,
  rounds: number,
  warmup: number,
): Promise<Record<string, number[]>> {
  const names = Object.keys(systems);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    const shift = round % names.length;
    for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
      const system = systems[name]!;
      const started = performance.now();
      await system.once();
      const elapsed = performance.now() - started;
      await system.reset?.();
      if (round >= warmup) samples[name]?.push(elapsed);
    }
  }
  return samples;
}

/** The 1, 5 and 15 minute load averages, rounded (cheap enough to take around every section). */
export function loadavg(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}
