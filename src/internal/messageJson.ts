/**
 * A message's metadata as plain JSON, the same in every admin output (the CLI's `--json`, the
 * dashboard's API): the optional fields are left out when absent rather than sent as `null`.
 *
 * @module
 */
import type { MessageInfo } from "../schema/Message.ts";

/** Everything about a message but its payload and attempt history. */
export const metadataJson = (m: MessageInfo<unknown>): Record<string, unknown> => ({
  id: m.id,
  state: m.state,
  receives: m.receives,
  priority: m.priority,
  sentAt: m.sentAt,
  updatedAt: m.updatedAt,
  visibleAt: m.visibleAt,
  ...(m.group === undefined ? {} : { group: m.group }),
  ...(m.deduplicationId === undefined ? {} : { deduplicationId: m.deduplicationId }),
  ...(m.deadReason === undefined ? {} : { deadReason: m.deadReason }),
});
