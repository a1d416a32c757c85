/**
 * Summary statistics for benchmark samples, and the alternating runner that
 * lets machine drift cancel out between the systems compared in one run.
 */

export interface Summary {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (q in [0, 1]) of unsorted samples. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  return {
    n,
    median: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    min: n ? Math.min(...samples) : Number.NaN,
    max: n ? Math.max(...samples) : Number.NaN,
    mean: n ? samples.reduce((a, b) => a + b, 0) / n : Number.NaN,
  };
}

export interface AlternateOptions {
  /**
   * Rotate the order every round (A B C, B C A, C A B, ...) so that no system
   * always runs right after the same other one (whose background work, such
   * as a deferred cleanup, would then always land on it). Default false.
   */
  rotate?: boolean;
}

/**
 * Runs each system's `once()` in turn, round after round (A B C, A B C, ...),
 * after `warmup` unrecorded rounds; returns the samples (ms) per system.
 */
export async function alternate(
  systems: Record<string, () => Promise<void>>,
  rounds: number,
  warmup = 1,
  options: AlternateOptions = {},
): Promise<Record<string, number[]>> {
  const names = Object.keys(systems);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    const shift = options.rotate ? round % names.length : 0;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      const once = systems[name]!;
      const started = performance.now();
      await once();
      const elapsed = performance.now() - started;
      if (round >= warmup) samples[name]?.push(elapsed);
    }
  }
  return samples;
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}
