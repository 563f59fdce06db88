/**
 * The CLI's terminal I/O over Deno's standard streams: whole-line writes to stdout and stderr,
 * a status line redrawn in place on a terminal, and one shared line reader over stdin (the
 * interactive shell, purge's confirmation and NDJSON input all read from it, so no line is lost
 * between them).
 *
 * @module
 */
import * as Effect from "effect/Effect";

const encoder = new TextEncoder();

const writeAll = (stream: { writeSync(p: Uint8Array): number }, text: string): void => {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
};

/**
 * Writes text to stdout as is.
 *
 * @since 0.1.0
 * @category output
 */
export const out = (text: string): Effect.Effect<void> =>
  Effect.sync(() => writeAll(Deno.stdout, text));

/**
 * Writes one line (a newline is added) to stdout.
 *
 * @since 0.1.0
 * @category output
 */
export const outLine = (text: string): Effect.Effect<void> => out(`${text}\n`);

/**
 * Writes one line (a newline is added) to stderr.
 *
 * @since 0.1.0
 * @category output
 */
export const errLine = (text: string): Effect.Effect<void> =>
  Effect.sync(() => writeAll(Deno.stderr, `${text}\n`));

/**
 * Writes text to stderr as is (prompts, in-place progress).
 *
 * @since 0.1.0
 * @category output
 */
export const err = (text: string): Effect.Effect<void> =>
  Effect.sync(() => writeAll(Deno.stderr, text));

/**
 * Whether stdout, stderr and stdin are terminals.
 *
 * @since 0.1.0
 * @category input
 */
export const terminals = (): { stdin: boolean; stdout: boolean; stderr: boolean } => ({
  stdin: Deno.stdin.isTerminal(),
  stdout: Deno.stdout.isTerminal(),
  stderr: Deno.stderr.isTerminal(),
});

/**
 * Reads stdin line by line; `undefined` at the end of input.
 *
 * @since 0.1.0
 * @category models
 */
export interface LineReader {
  readonly next: () => Promise<string | undefined>;
}

let shared: LineReader | undefined;

/**
 * The process's stdin reader, created on first use (stdin is not touched by commands that do not
 * read it). Lines are split on `\n`, with a trailing `\r` removed.
 *
 * @since 0.1.0
 * @category input
 */
export const stdinLines = (): LineReader => {
  if (shared !== undefined) return shared;
  const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let done = false;
  const next = async (): Promise<string | undefined> => {
    for (;;) {
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        return line.endsWith("\r") ? line.slice(0, -1) : line;
      }
      if (done) {
        if (buffer === "") return undefined;
        const last = buffer;
        buffer = "";
        return last;
      }
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else buffer += chunk.value;
    }
  };
  shared = { next };
  return shared;
};

/**
 * Reads the next line of stdin (`undefined` at the end of input).
 *
 * @since 0.1.0
 * @category input
 */
export const readLine: Effect.Effect<string | undefined> = Effect.promise(() =>
  stdinLines().next()
);
