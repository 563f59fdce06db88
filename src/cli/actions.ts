/**
 * The operations of the admin CLI, shared by the one-shot commands and the interactive shell.
 * Each prints its own result through `emit`: aligned human text by default, JSON with `--json`.
 * Failures are the library's typed errors or a `CliError`; `errors.ts` turns them into one line.
 *
 * They live by command family: `actions/messages.ts` (send, receive and the settles),
 * `actions/admin.ts` (table, policy and the moves that need no lease), `actions/inspect.ts`
 * (the read-only views), with what they share in `actions/shared.ts`.
 *
 * @module
 */
export { type ActionError, emit, type Env, type Report } from "./actions/shared.ts";
export * from "./actions/messages.ts";
export * from "./actions/admin.ts";
export * from "./actions/inspect.ts";
export * from "./actions/queues.ts";
