/**
 * Side-effect-free helpers shared by `scripts/test.ts` and `tests/_backends.ts`: the backend
 * names and their selection through `DYNAMOMQ_BACKENDS`, and an in-process dynalite (one for the
 * whole run under `deno task test`, one per test file under a plain `deno test`).
 */
import dynalite from "dynalite";

/** A running in-process dynalite. */
export interface Dynalite {
  readonly endpoint: string;
  /** Closes the server, dropping open keep-alive connections so it does not wait for them. */
  readonly close: () => Promise<void>;
}

interface Server {
  listen(port: number, host: string, callback: () => void): void;
  address(): { port: number } | string | null;
  close(callback: (err?: Error) => void): void;
  closeAllConnections?: () => void;
  once(event: "error", listener: (err: Error) => void): void;
  on(
    event: "request",
    listener: (req: {
      on(event: "error", f: () => void): void;
      removeAllListeners(event: "error"): void;
    }) => void,
  ): void;
  on(event: "clientError", listener: (err: Error, socket: { destroy(): void }) => void): void;
}

export const startDynalite = async (): Promise<Dynalite> => {
  // Tables become ACTIVE at once: by default dynalite keeps them CREATING for 500 ms.
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // A client that aborts a request mid-body (an interrupted fiber does) makes the server destroy
  // the request with an "aborted" error, which dynalite's handler rethrows: an uncaught exception
  // that would kill this whole process. This listener runs after dynalite's handler has attached
  // its own, so it replaces it: the client has gone anyway.
  server.on("request", (req) => {
    req.removeAllListeners("error");
    req.on("error", () => {});
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error(`dynalite: unexpected listen address ${address}`);
  }
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: () =>
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections?.();
      }),
  };
};

/**
 * The most realistic emulator endpoint there is, for tests of processes that talk to one
 * (the CLI, the dashboard): DynamoDB Local when `deno task test` started it, else its shared
 * dynalite, else a dynalite started in this process for this test file.
 */
export const bestEndpoint = async (): Promise<string> => {
  const ddbLocal = Deno.env.get("DYNAMOMQ_DDBLOCAL_ENDPOINT");
  if (ddbLocal) return ddbLocal;
  const dynalite = Deno.env.get("DYNAMOMQ_DYNALITE_ENDPOINT");
  if (dynalite) return dynalite;
  const server = await startDynalite();
  // Closed when the test file's isolate unloads, after every test.
  globalThis.addEventListener("unload", () => void server.close());
  return server.endpoint;
};

/** The backends of the conformance suite. */
export type BackendName = "memory" | "dynalite" | "dynamodb-local";

export const ALL_BACKENDS: ReadonlyArray<BackendName> = ["memory", "dynalite", "dynamodb-local"];

/** The backends named in `DYNAMOMQ_BACKENDS` (all when unset or empty). */
export const selectedBackends = (): ReadonlySet<BackendName> => {
  const raw = Deno.env.get("DYNAMOMQ_BACKENDS")?.trim() ?? "";
  if (raw === "") return new Set(ALL_BACKENDS);
  const names = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of names) {
    if (!(ALL_BACKENDS as ReadonlyArray<string>).includes(name)) {
      throw new Error(
        `DYNAMOMQ_BACKENDS: unknown backend "${name}" (expected ${ALL_BACKENDS.join(", ")})`,
      );
    }
  }
  return new Set(names as ReadonlyArray<BackendName>);
};
