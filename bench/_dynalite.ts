/**
 * dynalite as a stand-alone server process for the benchmarks: the same hardened server the tests
 * use (an aborted client request must not crash it), on a free loopback port, printing its
 * endpoint on the first line of stdout. Stops on SIGTERM / SIGINT.
 */
import { startDynalite } from "../tests/_emulators.ts";

// An interrupted fiber aborts its request; dynalite must outlive that.
globalThis.addEventListener("error", (event) => event.preventDefault());
globalThis.addEventListener("unhandledrejection", (event) => event.preventDefault());

const server = await startDynalite();
console.log(server.endpoint);

const stop = () => {
  server.close().finally(() => Deno.exit(0));
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
