/**
 * `src/dashboard/assets.ts` is generated from `src/dashboard/web/` by `scripts/gen-assets.ts`:
 * the served page must be exactly its sources.
 */
import assert from "node:assert/strict";
import { generated, TARGET } from "../scripts/gen-assets.ts";
import { html, script, style } from "../src/dashboard/assets.ts";

const web = (file: string) =>
  Deno.readTextFile(new URL(`../src/dashboard/web/${file}`, import.meta.url));

Deno.test("src/dashboard/assets.ts is generated from src/dashboard/web", async () => {
  for (const [path, text] of Object.entries(generated)) {
    const onDisk = await Deno.readTextFile(new URL(`../${path}`, import.meta.url));
    assert.equal(onDisk, text, `${path} is stale: run deno run -A scripts/gen-assets.ts`);
  }
  assert.deepEqual(Object.keys(generated), [TARGET]);
});

Deno.test("the served assets are the sources byte for byte", async () => {
  assert.equal(html, await web("index.html"));
  assert.equal(script, await web("app.js"));
  assert.equal(style, await web("app.css"));
  assert.match(script, /^\/\/ @ts-check\n/, "app.js stays type-checked");
});
