/**
 * Every ```ts block of README.md and docs/*.md type-checks. Each block is written to a module of
 * its own under `.test-output/` (inside the project, so deno.json's import map applies and
 * `@dynamomq/dynamomq` resolves to this package through its `name` and `exports`), named after
 * its file and line, and the lot goes through one `deno check`.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

const markdownFiles = async (): Promise<Array<string>> => {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.sort();
};

interface Block {
  readonly file: string;
  /** The line of the opening fence, 1-based. */
  readonly line: number;
  readonly code: string;
}

/** The ```ts / ```typescript blocks of a markdown file. */
const tsBlocks = (file: string, markdown: string): Array<Block> => {
  const blocks: Array<Block> = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\b/.test(lines[i]!)) continue;
    const start = i;
    const body: Array<string> = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    assert.ok(i < lines.length, `${file}:${start + 1}: unterminated code block`);
    blocks.push({ file, line: start + 1, code: body.join("\n") + "\n" });
  }
  return blocks;
};

// deno-lint-ignore no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

Deno.test("docs: every ts block in README.md and docs/*.md type-checks", async () => {
  const blocks: Array<Block> = [];
  for (const file of await markdownFiles()) {
    blocks.push(...tsBlocks(file, await Deno.readTextFile(new URL(file, ROOT))));
  }
  assert.ok(blocks.length > 0, "no ts blocks found");
  const dir = new URL(`.test-output/docs-${crypto.randomUUID()}/`, ROOT);
  await Deno.mkdir(dir, { recursive: true });
  try {
    const paths: Array<string> = [];
    for (const block of blocks) {
      const name = `${block.file.replace(/[^A-Za-z0-9]+/g, "_")}_L${block.line}.ts`;
      await Deno.writeTextFile(new URL(name, dir), block.code);
      paths.push(new URL(name, dir).pathname);
    }
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", ...paths],
      cwd: ROOT,
      stdin: "null",
    }).output();
    const output = (new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr))
      .replace(ANSI, "");
    assert.equal(code, 0, `a code block does not type-check (file_L<line>.ts):\n${output}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
