/**
 * Runs dynalite in a Web Worker, so that the emulator has a thread (and a core) of its own and
 * does not compete with the program's event loop. Started and stopped by `_embedded.ts`:
 * it posts `{ port }` once listening, and `"closed"` after a `"close"` message.
 */
/// <reference lib="deno.worker" />
import dynalite from "dynalite";

interface Server {
  listen(port: number, host: string, callback: () => void): void;
  address(): { port: number } | string | null;
  close(callback: (err?: Error) => void): void;
  closeAllConnections?: () => void;
  once(event: "error", listener: (err: Error) => void): void;
}

// Tables become ACTIVE at once: by default dynalite keeps them CREATING for 500 ms.
const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.once("error", (err) => self.postMessage({ error: String(err) }));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  self.postMessage(
    address === null || typeof address === "string"
      ? { error: `unexpected listen address ${address}` }
      : { port: address.port },
  );
});

// A client that goes away mid-request (an interrupted request aborts its socket) makes Node's
// HTTP server raise "aborted" on the request, which dynalite does not handle. That is the
// client's business, not a reason for the emulator to die: swallow it here.
self.addEventListener("error", (event) => event.preventDefault());
self.addEventListener("unhandledrejection", (event) => event.preventDefault());

self.onmessage = (event: MessageEvent) => {
  if (event.data !== "close") return;
  server.close(() => self.postMessage("closed"));
  // Idle keep-alive sockets would otherwise hold the close open.
  server.closeAllConnections?.();
};
