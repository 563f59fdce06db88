/**
 * The model of what the actors were told: which messages were sent (by body key `k`), which ids
 * the queue gave them, and who holds which lease until when, as handed out by `receive` and
 * moved on by heartbeats. It checks the receiver-side invariants when a receive hands messages
 * out: `two-live-holders` (another receiver's lease on the same message had not expired when
 * this receive started) and `group-exclusive` (another message of the same group is held under
 * an unexpired lease). A holder stops counting when it settles (whatever the outcome: a settle
 * whose response is lost may have applied), crashes, or an admin removes the message.
 */
import type { InvariantName } from "./invariants.ts";

/** A lease as handed out to one receiver. */
export interface Holding {
  readonly thread: string;
  readonly k: string;
  readonly lease: string;
  readonly group: string | undefined;
  expiry: number;
}

/** What the actors know. */
export class Model {
  private nextK = 0;
  /** Ids the queue reported for sent or received messages, in the order learnt. */
  readonly ids: Array<string> = [];
  private readonly idSet: Set<string> = new Set();
  readonly kById: Map<string, string> = new Map();
  /** Deduplication keys used so far, to resend some. */
  readonly dedupKeys: Array<string> = [];
  /**
   * The deduplication key each message was sent with. A deduplicated message's id is derived
   * from its key (docs/deduplication.md), so a send with the same key after the window has
   * passed writes a new message under the same id.
   */
  readonly dedupOf: Map<string, string> = new Map();
  readonly holdings: Map<string, Array<Holding>> = new Map();
  /** Messages an admin removed (body keys are never reused). */
  private readonly removedKs: Set<string> = new Set();

  constructor(
    private readonly report: (invariant: InvariantName, detail: string, defect?: string) => void,
    /** When a lease on a message was claimed, if the table saw it. */
    private readonly claimedAt: (k: string, lease: string) => number | undefined,
  ) {}

  /**
   * Whether two leases were valid at once: each is valid from its claim to its expiry as its
   * holder was told it (heartbeats included). A lease claimed after its expiry (a receive that
   * stalled longer than the visibility timeout) was never valid.
   */
  private overlap(a: Holding, b: Holding, fallback: number): boolean {
    const ca = this.claimedAt(a.k, a.lease) ?? fallback;
    const cb = this.claimedAt(b.k, b.lease) ?? fallback;
    return Math.max(ca, cb) < Math.min(a.expiry, b.expiry);
  }

  /** A fresh body key. */
  newKey(): string {
    return `m${this.nextK++}`;
  }

  learn(id: string, k: string): void {
    this.kById.set(id, k);
    if (!this.idSet.has(id)) {
      this.idSet.add(id);
      this.ids.push(id);
    }
  }

  /** Records the messages one receive handed out, checking them against the other holders. */
  handedOut(thread: string, started: number, heldAll: ReadonlyArray<Holding>): void {
    // A message an admin removed while this receive was under way is held by no one: its
    // holder can no longer settle it, and deleting an in-flight head frees its group at once.
    const held = heldAll.filter((h) => !this.removedKs.has(h.k));
    for (const h of held) {
      for (const other of this.holdings.get(h.k) ?? []) {
        if (other.lease !== h.lease && this.overlap(h, other, started)) {
          this.report(
            "two-live-holders",
            `${h.k} handed to ${thread} (claimed at ${
              this.claimedAt(h.k, h.lease) ?? "?"
            }, lease until ${h.expiry}) while ${other.thread} holds it (claimed at ${
              this.claimedAt(other.k, other.lease) ?? "?"
            }) until ${other.expiry}`,
            h.group !== undefined ? "2" : undefined,
          );
        }
      }
      if (h.group !== undefined) {
        for (const list of this.holdings.values()) {
          for (const other of list) {
            if (other.group === h.group && other.k !== h.k && this.overlap(h, other, started)) {
              this.report(
                "group-exclusive",
                `${h.k} of group ${h.group} handed to ${thread} while ${other.thread} holds ${other.k} until ${other.expiry}`,
                "2",
              );
            }
          }
        }
      }
    }
    for (const h of held) {
      let list = this.holdings.get(h.k);
      if (list === undefined) this.holdings.set(h.k, list = []);
      list.push(h);
    }
  }

  /** A holder let go of a message (settled, lost its lease). */
  drop(h: Holding): void {
    const list = this.holdings.get(h.k);
    if (list === undefined) return;
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
  }

  /** A thread crashed: it holds nothing any more. */
  crashed(thread: string): void {
    for (const list of this.holdings.values()) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.thread === thread) list.splice(i, 1);
    }
  }

  /** An admin removed the message: its holders can no longer settle it. */
  removed(k: string): void {
    this.holdings.delete(k);
    this.removedKs.add(k);
  }
}
