/**
 * The trace of a run: one line per scheduler decision (which thread went on, time moved, which
 * actor crashed), per injected fault and per operation outcome, in order. It holds no generated
 * ids, lease tokens or wall-clock times, so the same seed gives the same trace byte for byte —
 * which the replay test checks — and a failing seed's trace reads as the story of the failure.
 */

/** A run's trace. */
export class Trace {
  readonly lines: Array<string> = [];
  step = 0;
  /** Millisecond offset of the virtual clock from the start of the run. */
  elapsed = 0;

  line(text: string): void {
    this.lines.push(`${String(this.step).padStart(5)} +${this.elapsed}ms ${text}`);
  }

  /** The whole trace as text. */
  text(): string {
    return this.lines.join("\n");
  }

  /** The trace up to the given step (the violation's), at most `max` lines from its end. */
  upTo(step: number, max = 400): string {
    const cut = this.lines.filter((l) => Number(l.slice(0, 5)) <= step);
    const shown = cut.slice(-max);
    const skipped = cut.length - shown.length;
    return (skipped > 0 ? `  … ${skipped} earlier lines\n` : "") + shown.join("\n");
  }
}
