// What each bench section measures and how much of it: the full run (the
// record) and --quick (a check that everything still runs).

export const Sections = [
  "cli",
  "start",
  "concurrent",
  "memory",
  "ttrpc",
  "recovery",
  "images",
  "cri",
  "profile",
] as const;
export type SectionName = (typeof Sections)[number];

export interface Plan {
  quick: boolean;
  cli: { rounds: number; warmup: number };
  start: { rounds: number; warmup: number };
  concurrent: { pods: number; rounds: number };
  memory: { pods: number };
  ttrpc: { durationMs: number; warmupMs: number };
  recovery: { pods: number; rounds: number };
  images: { rounds: number; warmup: number };
  cri: { rounds: number; warmup: number; concurrency: number; concurrentRounds: number };
  profile: { rounds: number };
}

export const full: Plan = {
  quick: false,
  cli: { rounds: 20, warmup: 2 },
  start: { rounds: 30, warmup: 3 },
  concurrent: { pods: 50, rounds: 3 },
  memory: { pods: 50 },
  ttrpc: { durationMs: 3000, warmupMs: 500 },
  recovery: { pods: 100, rounds: 5 },
  images: { rounds: 10, warmup: 1 },
  cri: { rounds: 30, warmup: 3, concurrency: 20, concurrentRounds: 5 },
  profile: { rounds: 10 },
};

export const quick: Plan = {
  quick: true,
  cli: { rounds: 5, warmup: 1 },
  start: { rounds: 5, warmup: 1 },
  concurrent: { pods: 10, rounds: 1 },
  memory: { pods: 10 },
  ttrpc: { durationMs: 300, warmupMs: 100 },
  recovery: { pods: 20, rounds: 2 },
  images: { rounds: 3, warmup: 1 },
  cri: { rounds: 6, warmup: 1, concurrency: 20, concurrentRounds: 1 },
  profile: { rounds: 3 },
};
