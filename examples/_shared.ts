/**
 * What the example programs share: the order payload and flag parsing.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import * as Schema from "effect/Schema";
import type * as Duration from "effect/Duration";

/** The payload `produce`, `consume` and the HTTP app send and handle. */
export const Order = Schema.Struct({
  id: Schema.String,
  customer: Schema.String,
  total: Schema.Number,
});

/** An order as handlers see it. */
export type Order = typeof Order.Type;

/** Exits with status 2 and a usage message (bad command line). */
export const usage = (message: string): never => {
  console.error(message);
  Deno.exit(2);
};

/** A positive integer flag value, or exit with status 2. */
export const positiveInt = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer, got "${raw}"`);
  return n;
};

/** A duration flag value such as `"10 seconds"` or `"500 millis"` (checked by the queue). */
export const duration = (raw: string): Duration.DurationInput => raw as Duration.DurationInput;

/**
 * Parses `Deno.args` with `node:util`'s `parseArgs` (strict: unknown flags are an error). A
 * leading `--` is dropped, so that `deno task produce -- --count 5` works as `--count 5` does.
 */
export const parseFlags = <const O extends NonNullable<ParseArgsConfig["options"]>>(
  options: O,
): ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
>["values"] => {
  const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    return usage(e instanceof Error ? e.message : String(e));
  }
};
