/**
 * A headless Chromium for the end-to-end tests: Debian's `/usr/bin/chromium` (or
 * `DYNAMOMQ_CHROMIUM`) driven by playwright-core, which downloads no browser of its own. Each
 * launch gets a fresh profile directory, removed again on close, so runs share no state.
 *
 * playwright-core is a test tool, so it is pinned here rather than in deno.json's import map
 * (which lists what the package and the examples import); this module is the only place that
 * names it, and re-exports the types the tests use. `deno task check` type-checks against it, so
 * it stays in deno.lock (and a cold `deno task` still downloads its 14 MB).
 */
import { type BrowserContext, chromium } from "npm:playwright-core@1.64.1";
import { hangGuard } from "./_timing.ts";

export type { Page, Request } from "npm:playwright-core@1.64.1";

/** The Chromium executable: `DYNAMOMQ_CHROMIUM`, else Debian's package. */
export const chromiumPath = (): string => {
  const configured = Deno.env.get("DYNAMOMQ_CHROMIUM")?.trim();
  return configured !== undefined && configured !== "" ? configured : "/usr/bin/chromium";
};

/** Whether the Chromium executable exists and is executable (nothing is started). */
export const hasChromium = async (): Promise<boolean> => {
  try {
    const info = await Deno.stat(chromiumPath());
    return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
  } catch {
    return false;
  }
};

/**
 * Flags for a quiet, reproducible browser: no sandbox (containers and CI runners lack the user
 * namespaces it needs), no GPU, and none of the background traffic (updates, sync, QUIC probes)
 * that would make the browser reach outside the machine.
 */
const ARGS: ReadonlyArray<string> = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser: one context (with its own profile) in which tests open pages. */
export interface Browser {
  readonly context: BrowserContext;
  /** Closes the browser, waits for its process to end and removes its profile directory. */
  readonly close: () => Promise<void>;
}

/** Launches headless Chromium with a fresh profile and a 1280×800 viewport. */
export const launchBrowser = async (): Promise<Browser> => {
  const profile = await Deno.makeTempDir({ prefix: "dynamomq-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: [...ARGS],
      viewport: { width: 1280, height: 800 },
      // Fixed, so relative times and the screenshot look the same on every machine.
      locale: "en-US",
      timezoneId: "UTC",
      // Playwright's 180 s default, as a scaled hang guard (tests/_timing.ts).
      timeout: hangGuard(90_000),
    });
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    context,
    close: () =>
      closed ??= (async () => {
        try {
          await context.close();
        } finally {
          await Deno.remove(profile, { recursive: true }).catch(() => {});
        }
      })(),
  };
};
