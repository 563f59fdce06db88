/**
 * Every relative link in README.md and docs/*.md resolves on JSR: its target is one of the files
 * `deno publish --dry-run` would upload (not merely present in the repository), and an anchor
 * (`#section`) names a heading of the target markdown file. Images count as links.
 *
 * The published file list comes from the dry run itself (with type checks off: only the file
 * list is needed), so the test follows whatever `publish.include` / `exclude` and `.gitignore`
 * say, exactly as `deno publish` reads them.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

// deno-lint-ignore no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** The files `deno publish` would upload, as paths relative to the project root. */
const publishedFiles = async (): Promise<Set<string>> => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty", "--allow-slow-types", "--no-check"],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const output = (new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr))
    .replace(ANSI, "");
  assert.equal(code, 0, `deno publish --dry-run failed:\n${output}`);
  const files = new Set<string>();
  for (const m of output.matchAll(/^\s+(file:\/\/\S+) \([^)]*\)\s*$/gm)) {
    const path = decodeURIComponent(new URL(m[1]!).pathname);
    assert.ok(path.startsWith(ROOT.pathname), `published file outside the project: ${path}`);
    files.add(path.slice(ROOT.pathname.length));
  }
  assert.ok(files.has("mod.ts"), `no file list in the dry run's output:\n${output}`);
  return files;
};

const markdownFiles = async (): Promise<Array<string>> => {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.sort();
};

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Markdown text with fenced code blocks and inline code spans blanked out (lines kept). */
const withoutCode = (markdown: string): Array<string> => {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line.replace(/`[^`]*`/g, "``");
  });
};

/** Inline links and images, reference definitions and HTML `src`/`href` attributes. */
const linksOf = (markdown: string): Array<Link> => {
  const links: Array<Link> = [];
  withoutCode(markdown).forEach((text, i) => {
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: i + 1, target: m[1]! });
    }
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(text);
    if (definition !== null) links.push({ line: i + 1, target: definition[1]! });
    for (const m of text.matchAll(/\b(?:src|href)="([^"]+)"/g)) {
      links.push({ line: i + 1, target: m[1]! });
    }
  });
  return links;
};

/** GitHub's (and JSR's) heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

const anchorsOf = (markdown: string): Set<string> => {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
};

/** `target` resolved against the markdown file `from`, relative to the root; undefined if outside. */
const resolve = (from: string, target: string): string | undefined => {
  const url = new URL(target, new URL(from, ROOT));
  return url.pathname.startsWith(ROOT.pathname)
    ? decodeURIComponent(url.pathname.slice(ROOT.pathname.length))
    : undefined;
};

Deno.test("links: every relative link in README.md and docs/*.md resolves to a published file", async () => {
  const published = await publishedFiles();
  const problems: Array<string> = [];
  let checked = 0;
  for (const file of await markdownFiles()) {
    if (!published.has(file)) problems.push(`${file} itself is not published`);
    const markdown = await Deno.readTextFile(new URL(file, ROOT));
    for (const { line, target } of linksOf(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // absolute
      checked++;
      const [path, anchor] = target.split("#", 2) as [string, string | undefined];
      const where = `${file}:${line}: ${target}`;
      const resolved = path === "" ? file : resolve(file, path);
      if (resolved === undefined) {
        problems.push(`${where}: points outside the package`);
        continue;
      }
      const isDir = resolved === "" || resolved.endsWith("/");
      const found = isDir
        ? [...published].some((p) => p.startsWith(resolved))
        : published.has(resolved);
      if (!found) {
        problems.push(`${where}: ${resolved || "."} is not in the published files`);
        continue;
      }
      if (anchor !== undefined && anchor !== "" && resolved.endsWith(".md")) {
        const anchors = anchorsOf(await Deno.readTextFile(new URL(resolved, ROOT)));
        if (!anchors.has(anchor)) {
          problems.push(`${where}: no heading with anchor #${anchor} in ${resolved}`);
        }
      }
    }
  }
  assert.ok(checked > 0, "no relative links found");
  assert.deepEqual(problems, [], `broken links on JSR:\n${problems.join("\n")}`);
});

Deno.test("links: the link parser finds inline links, images, definitions and anchors", () => {
  const md = [
    "# Title with `code` and a [link](x.md)",
    'See [a](docs/a.md#some-part) and ![img](docs/i.png "t").',
    "```sh",
    "[not](a-link.md)",
    "```",
    "Inline `[not](either.md)` code.",
    "[ref]: ../BENCHMARKS.md",
    '<img src="docs/b.png">',
    "## Some part",
    "## Some part",
  ].join("\n");
  assert.deepEqual(linksOf(md).map((l) => l.target), [
    "x.md",
    "docs/a.md#some-part",
    "docs/i.png",
    "../BENCHMARKS.md",
    "docs/b.png",
  ]);
  assert.deepEqual([...anchorsOf(md)], ["title-with-code-and-a-link", "some-part", "some-part-1"]);
  assert.equal(resolve("docs/a.md", "../BENCHMARKS.md"), "BENCHMARKS.md");
  assert.equal(resolve("docs/a.md", "../../x.md"), undefined);
});
