/**
 * Consumer processes for the process-level tests (`processes.test.ts`, `crash.test.ts`): each runs
 * `tests/_worker.ts`, which appends one JSON line per handler start, end and ack to its own file.
 */

/** One line of a worker's record file. */
export interface Rec {
  /** `start`, `end`, `interrupted`, `acked`, … */
  readonly e: string;
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly t: number;
  readonly id?: string;
  readonly pk?: string;
  /** The receive count. */
  readonly r?: number;
  /** On `start`: the message's `visibleAt` (epoch ms) as claimed. */
  readonly v?: number;
}

/** Reads a record file; a missing file is empty and a torn last line (SIGKILL) is skipped. */
export const readRecords = (path: string): Array<Rec> => {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  const out: Array<Rec> = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // The torn last line of a SIGKILLed worker.
    }
  }
  return out;
};

/** A running worker process. */
export interface Worker {
  readonly name: string;
  readonly out: string;
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  readonly stderr: Promise<string>;
  /** When the process exited (epoch ms), once it has. */
  exitedAt?: number;
  records(): Array<Rec>;
}

/** Starts `tests/_worker.ts` against `endpoint`, recording into `<dir>/<name>.jsonl`. */
export const startWorker = (
  dir: string,
  name: string,
  options: {
    readonly endpoint: string;
    readonly table: string;
    readonly queue: string;
    readonly concurrency: number;
    readonly visibilityMs: number;
    readonly handlerMs: number;
    readonly shutdownMs: number;
    /** The handler calls after the first `hangAfter` never end. */
    readonly hangAfter?: number;
  },
): Worker => {
  const out = `${dir}/${name}.jsonl`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_worker.ts", import.meta.url).pathname,
      "--table",
      options.table,
      "--queue",
      options.queue,
      "--out",
      out,
      "--concurrency",
      String(options.concurrency),
      "--visibility-ms",
      String(options.visibilityMs),
      "--handler-ms",
      String(options.handlerMs),
      "--shutdown-ms",
      String(options.shutdownMs),
      ...(options.hangAfter === undefined ? [] : ["--hang-after", String(options.hangAfter)]),
    ],
    env: { AWS_ENDPOINT_URL_DYNAMODB: options.endpoint, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const worker: Worker = {
    name,
    out,
    child,
    status: child.status.then((s) => {
      worker.exitedAt = Date.now();
      return s;
    }),
    stderr: new Response(child.stderr).text(),
    records: () => readRecords(out),
  };
  return worker;
};
