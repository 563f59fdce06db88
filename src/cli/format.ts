/**
 * Pure helpers of the admin CLI: aligned tables, relative times and compact durations for human
 * output, and the parsing of the values operators type (durations, times, JSON with the position
 * of a mistake). Nothing here does I/O, so the shell, `watch` and every command share it.
 *
 * @module
 */
import * as Duration from "effect/Duration";
import * as Either from "effect/Either";
import * as Option from "effect/Option";

/**
 * How a table column is aligned: numbers read best right-aligned.
 *
 * @since 0.1.0
 * @category models
 */
export type Align = "left" | "right";

/**
 * Renders rows under a header as a table whose columns are padded to their widest cell, two
 * spaces apart; trailing spaces are trimmed.
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  align: ReadonlyArray<Align> = [],
): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: ReadonlyArray<string>) =>
    widths.map((w, i) => {
      const cell = cells[i] ?? "";
      return align[i] === "right" ? cell.padStart(w) : cell.padEnd(w);
    }).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
};

/**
 * Renders label/value pairs as two aligned columns (`label  value`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const fields = (pairs: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(0, ...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd()).join("\n");
};

/**
 * A compact duration: `350ms`, `12s`, `3m 05s`, `2h 13m`, `4d 2h`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (millis: number): string => {
  const ms = Math.max(0, Math.round(millis));
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
};

/**
 * A time relative to `now`: `12s ago`, `in 30s`; within a second `just now` or `in <1s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const relative = (at: number, now: number): string => {
  const delta = at - now;
  if (delta <= 0 && delta > -1000) return "just now";
  if (delta > 0 && delta < 1000) return "in <1s";
  return delta < 0 ? `${duration(-delta)} ago` : `in ${duration(delta)}`;
};

/**
 * Shortens text to `max` characters, ending with `…` when cut, and folds newlines so a table
 * row stays one line.
 *
 * @since 0.1.0
 * @category formatting
 */
export const truncate = (text: string, max: number): string => {
  const flat = text.replace(/\s*\n\s*/g, " ");
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
};

/**
 * A rate per second with one decimal and an explicit sign (`+12.5/s`, `-3.0/s`, `0.0/s`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const rate = (perSecond: number): string => {
  const r = Math.round(perSecond * 10) / 10;
  return `${r > 0 ? "+" : ""}${r === 0 ? "0.0" : r.toFixed(1)}/s`;
};

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration as operators type it: `500ms`, `30s`, `5m`, `1h`, `2d`, `1h30m`, a bare
 * number of seconds, or Effect's own form (`"10 seconds"`). Returns milliseconds.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (input: string): Either.Either<number, string> => {
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Either.right(Math.round(Number(text) * 1000));
  const compact = /^(?:\d+(?:\.\d+)?(?:ms|sec|min|s|m|h|d))+$/;
  if (compact.test(text)) {
    let total = 0;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d)/g)) {
      total += Number(n) * UNITS[unit!]!;
    }
    return Either.right(Math.round(total));
  }
  const decoded = Duration.decodeUnknown(text);
  if (Option.isSome(decoded) && Duration.isFinite(decoded.value)) {
    return Either.right(Math.round(Duration.toMillis(decoded.value)));
  }
  return Either.left(
    `not a duration: "${input}" (use e.g. 500ms, 30s, 5m, 1h, 2d or "10 seconds")`,
  );
};

/**
 * Parses a point in time: an ISO 8601 date/time, epoch milliseconds, or a duration meaning
 * "that long ago" (`1h` is an hour before `now`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTime = (input: string, now: number): Either.Either<number, string> => {
  const text = input.trim();
  if (/^\d{10,}$/.test(text)) return Either.right(Number(text));
  const ago = parseDuration(text);
  if (Either.isRight(ago)) return Either.right(now - ago.right);
  const t = Date.parse(text);
  return Number.isNaN(t)
    ? Either.left(`not a time: "${input}" (use an ISO date, epoch ms, or a duration ago like 2h)`)
    : Either.right(t);
};

/**
 * Where a JSON text goes wrong.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonProblem {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** 0-based character offset. */
  readonly offset: number;
  /** What was wrong there, e.g. `unexpected "}"` or `unexpected end of input`. */
  readonly reason: string;
}

/**
 * Parses JSON; on failure locates the first mistake (line, column, reason) with a small
 * recursive-descent scanner, since the runtime's own messages give no position for many errors.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseJson = (text: string): Either.Either<unknown, JsonProblem> => {
  try {
    return Either.right(JSON.parse(text));
  } catch {
    return Either.left(locateJsonError(text));
  }
};

/**
 * Describes a JSON problem in one line: `line 1, column 8: unexpected "x"`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeJsonProblem = (p: JsonProblem): string =>
  `line ${p.line}, column ${p.column}: ${p.reason}`;

class JsonSyntax {
  constructor(readonly offset: number, readonly reason: string) {}
}

const locateJsonError = (text: string): JsonProblem => {
  let i = 0;
  const fail = (reason?: string): never => {
    throw new JsonSyntax(
      i,
      reason ?? (i >= text.length ? "unexpected end of input" : `unexpected ${show(text[i]!)}`),
    );
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const expect = (word: string) => {
    for (const c of word) {
      if (text[i] !== c) fail();
      i++;
    }
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail(`control character in a string (escape it)`);
      if (text[i] === "\\") {
        i++;
        if (i >= text.length) fail();
        if (text[i] === "u") {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) {
              i += k;
              fail(i >= text.length ? undefined : `bad \\u escape`);
            }
          }
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i]!)) fail(`bad escape \\${text[i]}`);
      }
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null || m[0] === "-") fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') {
          fail(i >= text.length ? undefined : `expected a property name in quotes`);
        }
        string();
        ws();
        if (text[i] !== ":") fail(i >= text.length ? undefined : `expected ":"`);
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail(i >= text.length ? undefined : `expected "," or "}"`);
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail(i >= text.length ? undefined : `expected "," or "]"`);
      }
    }
    if (c === '"') return string();
    if (c === "t") return expect("true");
    if (c === "f") return expect("false");
    if (c === "n") return expect("null");
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number();
    fail();
  };
  let offset = text.length;
  let reason = "not valid JSON";
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${show(text[i]!)} after the JSON value`);
  } catch (e) {
    if (!(e instanceof JsonSyntax)) throw e;
    offset = e.offset;
    reason = e.reason;
  }
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, column, offset, reason };
};

const show = (c: string): string => JSON.stringify(c);

/**
 * Splits a line of the interactive shell into words as a user types them: words are separated by
 * spaces; `'…'` quotes literally (the quotes are dropped, as in a Unix shell); a JSON object or
 * array (`{…}`, `[…]`) and a JSON string (`"…"`) are each kept whole, spaces included, so
 * `send --data {"note": "two words"}` needs no quoting. Fails on an unterminated quote or bracket.
 *
 * @since 0.1.0
 * @category parsing
 */
export const shellWords = (line: string): Either.Either<Array<string>, string> => {
  const words: Array<string> = [];
  let i = 0;
  /** The end of the JSON string starting at `at` (just past its closing quote), or -1. */
  const stringEnd = (at: number): number => {
    for (let k = at + 1; k < line.length; k++) {
      if (line[k] === "\\") k++;
      else if (line[k] === '"') return k + 1;
    }
    return -1;
  };
  while (i < line.length) {
    if (/\s/.test(line[i]!)) {
      i++;
      continue;
    }
    let word = "";
    while (i < line.length && !/\s/.test(line[i]!)) {
      const c = line[i]!;
      if (c === "'") {
        const end = line.indexOf("'", i + 1);
        if (end < 0) return Either.left("unterminated ' quote: close it with another '");
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        const end = stringEnd(i);
        if (end < 0) return Either.left('unterminated " quote in a JSON string');
        word += line.slice(i, end);
        i = end;
      } else if (c === "{" || c === "[") {
        const start = i;
        const open: Array<string> = [];
        while (i < line.length) {
          const d = line[i]!;
          if (d === '"') {
            const end = stringEnd(i);
            if (end < 0) return Either.left('unterminated " quote in a JSON string');
            i = end;
            continue;
          }
          if (d === "{" || d === "[") open.push(d === "{" ? "}" : "]");
          else if (d === "}" || d === "]") {
            if (open.pop() !== d) break;
          }
          i++;
          if (open.length === 0) break;
        }
        if (open.length > 0) {
          return Either.left(`unbalanced JSON: ${open.length} "${open.at(-1)}" missing`);
        }
        word += line.slice(start, i);
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return Either.right(words);
};
