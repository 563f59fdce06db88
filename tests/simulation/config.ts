/**
 * The shape of one simulated run, drawn from its seed: how many actors of each kind, the queue's
 * settings, the message mix and the fault plan. Every seed gets a different mix, so a few hundred
 * seeds cover small and busy queues, with and without groups, priorities, shards, index lag and
 * faults. `overrides` pins any field (the CLI's `--set key=value`).
 */
import { seededRandom } from "../../src/internal/seededRandom.ts";

/** One run's settings. */
export interface SimConfig {
  readonly seed: number;
  readonly producers: number;
  readonly consumers: number;
  readonly admins: number;
  readonly readers: number;
  /** Messages the producers send in all. */
  readonly messages: number;
  /** Scheduler steps of the busy phase. */
  readonly steps: number;
  readonly visibilityMillis: number;
  readonly maxReceives: number;
  readonly priorities: number;
  readonly shards: number;
  /** Number of FIFO groups (0: no grouped messages). */
  readonly groups: number;
  readonly groupShare: number;
  readonly dedupShare: number;
  readonly delayShare: number;
  readonly batchShare: number;
  /** Share of calls that get a fault. */
  readonly faultRate: number;
  readonly stallMaxMillis: number;
  /** Chance per step that a thread in the middle of an operation crashes. */
  readonly crashRate: number;
  /** Chance per step that the clock moves on instead of a thread. */
  readonly timeRate: number;
  readonly indexLagMillis: number;
  /** Whether admins may purge everything (else only the dead-letter queue). */
  readonly purgeAll: boolean;
}

/** Draws the settings of a seed. */
export const configFor = (
  seed: number,
  overrides: Partial<Record<keyof SimConfig, number | boolean>> = {},
): SimConfig => {
  const r = seededRandom(seed ^ 0x5eed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const visibilityMillis = int(2, 6) * 500;
  const base: SimConfig = {
    seed,
    producers: int(1, 3),
    consumers: int(1, 4),
    admins: int(0, 2),
    readers: int(0, 2),
    messages: int(6, 30),
    steps: int(300, 900),
    visibilityMillis,
    maxReceives: int(2, 4),
    priorities: r() < 0.35 ? int(2, 3) : 1,
    shards: r() < 0.3 ? 2 : 1,
    groups: r() < 0.6 ? int(1, 3) : 0,
    groupShare: 0.2 + r() * 0.5,
    dedupShare: r() * 0.25,
    delayShare: r() * 0.3,
    batchShare: r() * 0.3,
    faultRate: r() < 0.15 ? 0 : r() * 0.25,
    stallMaxMillis: visibilityMillis * 3,
    crashRate: r() * 0.02,
    timeRate: 0.08 + r() * 0.15,
    indexLagMillis: r() < 0.3 ? int(1, 200) : 0,
    purgeAll: r() < 0.2,
  };
  return { ...base, ...overrides } as SimConfig;
};
