/**
 * Whether an address is this machine's: emulators on a loopback endpoint get dummy credentials,
 * and a dashboard listening on loopback answers loopback host names only.
 *
 * @module
 */

/** The host names of loopback, as a `Host` header or URL carries them. */
export const LOOPBACK_NAMES: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"];

/** A host name or address (`localhost`, `127.x.y.z`, `::1` with or without brackets). */
export const isLoopbackHost = (host: string): boolean =>
  LOOPBACK_NAMES.includes(host) || host === "::1" || host.startsWith("127.");

/** An endpoint URL whose host is loopback; false for anything that is not a URL. */
export const isLoopbackUrl = (endpoint: string): boolean => {
  try {
    return isLoopbackHost(new URL(endpoint).hostname);
  } catch {
    return false;
  }
};
