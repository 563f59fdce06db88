/**
 * Assembles a `Queue<A>` from its protocols. Each part receives the same immutable
 * `QueueContext`; the parts that ride catalog writes on their requests (send, receive, settle)
 * share the handle's one `CatalogReport`. This module makes no request itself.
 *
 * @module
 */
import type * as Schema from "effect/Schema";
import type { DynamoDB } from "../../services/DynamoDB.ts";
import type { Queue } from "../../services/Queue.ts";
import { makeAdmin } from "./admin.ts";
import { makeCatalogReport } from "./catalogReport.ts";
import { makeContext } from "./context.ts";
import { makeInspect } from "./inspect.ts";
import type { Settings } from "./options.ts";
import { makeReceive } from "./receive.ts";
import { makeSend } from "./send.ts";
import { makeSettle } from "./settle.ts";

/** A typed handle for one queue, over validated settings. */
export const makeQueue = <A, I>(
  db: DynamoDB,
  settings: Settings,
  schema: Schema.Schema<A, I>,
): Queue<A> => {
  const ctx = makeContext(db, settings, schema);
  const catalog = makeCatalogReport(ctx);
  const send = makeSend(ctx, catalog);
  const receive = makeReceive(ctx, catalog);
  const settle = makeSettle(ctx, catalog);
  const admin = makeAdmin(ctx);
  const inspect = makeInspect(ctx);
  // Listed one by one, in the order of the `Queue` interface.
  return {
    name: settings.name,
    table: settings.table,
    visibilityTimeoutMillis: settings.visibilityTimeoutMillis,
    maxReceives: settings.maxReceives,
    shards: settings.shards,
    priorities: settings.priorities,
    send: send.send,
    sendBatch: send.sendBatch,
    transactItem: send.transactItem,
    receive: receive.receive,
    ack: settle.ack,
    ackBatch: settle.ackBatch,
    nack: settle.nack,
    nackBatch: settle.nackBatch,
    changeVisibility: settle.changeVisibility,
    changeVisibilityBatch: settle.changeVisibilityBatch,
    release: settle.release,
    deadLetter: settle.deadLetter,
    reschedule: admin.reschedule,
    cancel: admin.cancel,
    delete: admin.delete,
    moveToDeadLetter: admin.moveToDeadLetter,
    redrive: admin.redrive,
    redriveAll: admin.redriveAll,
    get: inspect.get,
    list: inspect.list,
    stats: inspect.stats,
    purge: admin.purge,
  };
};
