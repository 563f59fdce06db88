/**
 * An in-memory `DynamoDB`: the port implemented over plain maps, with DynamoDB's semantics for
 * everything the port offers — conditions, upserts, sparse indexes with their projections, UTF-8
 * sort order, query paging (limit before filter, the 1 MB page), batch and transaction limits,
 * the 400 KB item size and DynamoDB's validation errors. Use it for offline tests of code that
 * needs the `DynamoDB` service; every build of the layer starts with an empty store.
 *
 * Its rules were checked against DynamoDB Local. Where DynamoDB Local departs from AWS's
 * documented behaviour it follows AWS: a query page counts the items read before the filter
 * toward 1 MB, sized as the index stores them. Items with equal index sort keys come back in
 * table key order (DynamoDB's own order for them is unspecified), and TTL never deletes items.
 *
 * @example
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { layerMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* db.createTable({ name: "my-table", partitionKey: "pk", sortKey: "sk", indexes: [] });
 *   yield* db.put("my-table", { pk: "a", sk: "b", n: 1 }, {
 *     condition: DynamoDB.notExists("pk"),
 *   });
 *   return yield* db.get("my-table", { pk: "a", sk: "b" });
 * });
 *
 * Effect.runPromise(program.pipe(Effect.provide(layerMemory))); // { pk: "a", sk: "b", n: 1 }
 * ```
 *
 * @module
 */
import * as Clock from "effect/Clock";
import * as Duration from "effect/Duration";
import * as Effect from "effect/Effect";
import * as Layer from "effect/Layer";
import { ConditionFailed, DynamoDBError, type DynamoDBErrorReason } from "../Errors.ts";
// Folded exactly as the live layer does before it sends an expression (an empty `And` is true,
// an empty `Or` or `In` false), so both validate and evaluate the same expression.
import { fold } from "../internal/expression.ts";
import { itemSize, utf8Length } from "../internal/itemSize.ts";
import {
  type AttributeValue,
  type BatchWriteRequest,
  type BatchWriteResult,
  type Comparator,
  type Condition,
  DynamoDB,
  type IndexDefinition,
  type Item,
  type Key,
  MAX_BATCH_GET,
  MAX_BATCH_WRITE,
  MAX_ITEM_BYTES,
  MAX_TRANSACT_ITEMS,
  type Query,
  type QueryPage,
  type SortKeyCondition,
  type TableDefinition,
  type TableDescription,
  type TransactItem,
  type Update,
} from "../services/DynamoDB.ts";
import { seededRandom } from "../internal/seededRandom.ts";

/**
 * Which optional DynamoDB features the in-memory backend offers. Turning one off makes it
 * behave like a backend without it (dynalite): the operation fails with a `DynamoDBError` of
 * reason `Unsupported`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /**
   * Whether `transactWrite` works.
   * @default true
   */
  readonly transactions?: boolean | undefined;
  /**
   * Whether `enableTimeToLive` works (items are never deleted by TTL either way, as neither AWS
   * nor the emulators delete them promptly).
   * @default true
   */
  readonly ttl?: boolean | undefined;
  /**
   * Eventual consistency of the global secondary indexes, as DynamoDB's own: each change of an
   * item's index entry (added, moved, removed) becomes visible to index queries only this long
   * after the write, read from `Clock` (so `TestClock` drives it). Until then a query sees the
   * entry as it was: missing, stale (old sort key and projected attributes) or still there after
   * the item was deleted. The changes of one item become visible in the order they were made.
   * Base-table reads and queries stay strongly consistent.
   * @default 0 (indexes are updated with the write)
   */
  readonly indexLag?: Duration.DurationInput | undefined;
  /**
   * With `indexLag`: when given, each change's delay is drawn uniformly from 0 to `indexLag` by
   * a PRNG seeded with this number (so a run repeats), instead of every change waiting exactly
   * `indexLag`; items then also become visible out of their write order.
   */
  readonly indexLagSeed?: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Limits (as DynamoDB enforces them)
// ---------------------------------------------------------------------------------------------

/** A query page stops after the item that brings the data read to 1 MB. */
const MAX_PAGE_BYTES = 1024 * 1024;
/** A BatchGetItem response carries at most 16 MB; the other keys come back unprocessed. */
const MAX_BATCH_GET_BYTES = 16 * 1024 * 1024;
/** The items of one TransactWriteItems request add up to at most 4 MB. */
const MAX_TRANSACT_BYTES = 4 * 1024 * 1024;
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;
/** Lists and maps nest at most this deep (DynamoDB Local rejects the 32nd level). */
const MAX_DEPTH = 31;
const MAX_IN_OPERANDS = 100;
const MAX_INDEXES = 20;
const MAX_PROJECTED_ATTRIBUTES = 100;
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

// ---------------------------------------------------------------------------------------------
// Failures: thrown inside one synchronous operation, turned into typed errors at its edge
// ---------------------------------------------------------------------------------------------

class Rejection {
  constructor(readonly reason: DynamoDBErrorReason, readonly detail: string) {}
}

class ConditionFalse {
  constructor(readonly table: string, readonly key: Key, readonly item?: Item | undefined) {}
}

const invalid = (detail: string): never => {
  throw new Rejection("Validation", detail);
};

/**
 * Runs one operation synchronously, so that no other operation can interleave with it: this is
 * what makes every read-modify-write atomic.
 */
const attempt = <A>(
  operation: string,
  body: () => A,
): Effect.Effect<A, DynamoDBError> =>
  Effect.suspend((): Effect.Effect<A, DynamoDBError> => {
    try {
      return Effect.succeed(body());
    } catch (e) {
      if (e instanceof Rejection) {
        return Effect.fail(
          new DynamoDBError({ operation, reason: e.reason, retryable: false, detail: e.detail }),
        );
      }
      throw e;
    }
  });

const attemptWrite = <A>(
  operation: string,
  body: () => A,
): Effect.Effect<A, ConditionFailed | DynamoDBError> =>
  Effect.suspend((): Effect.Effect<A, ConditionFailed | DynamoDBError> => {
    try {
      return Effect.succeed(body());
    } catch (e) {
      if (e instanceof ConditionFalse) {
        return Effect.fail(
          new ConditionFailed({
            table: e.table,
            operation,
            key: e.key,
            ...(e.item === undefined ? {} : { item: e.item }),
          }),
        );
      }
      if (e instanceof Rejection) {
        return Effect.fail(
          new DynamoDBError({ operation, reason: e.reason, retryable: false, detail: e.detail }),
        );
      }
      throw e;
    }
  });

// ---------------------------------------------------------------------------------------------
// Values: validated deep copies in, deep copies out
// ---------------------------------------------------------------------------------------------

type TypeName = "S" | "N" | "B" | "BOOL" | "NULL" | "L" | "M";

const typeOf = (value: AttributeValue): TypeName =>
  typeof value === "string"
    ? "S"
    : typeof value === "number"
    ? "N"
    : typeof value === "boolean"
    ? "BOOL"
    : value === null
    ? "NULL"
    : value instanceof Uint8Array
    ? "B"
    : Array.isArray(value)
    ? "L"
    : "M";

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** What the document client (with `removeUndefinedValues`) leaves out of lists and maps. */
const isDropped = (value: unknown): boolean => value === undefined || typeof value === "function";

const checkNumber = (n: number): number => {
  if (!Number.isFinite(n)) invalid(`Special numeric value ${n} is not allowed`);
  // The document client refuses numbers it cannot send exactly (the live layer reports it as
  // a validation failure); DynamoDB itself refuses magnitudes below 1e-130.
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER) {
    invalid(`Number ${n} is outside Number.MAX_SAFE_INTEGER; it cannot be stored exactly`);
  }
  if (n !== 0 && Math.abs(n) < 1e-130) {
    invalid(
      "Number underflow. Attempting to store a number with magnitude smaller than supported range",
    );
  }
  return n === 0 ? 0 : n; // -0 is stored as 0
};

/** An own attribute of an item or key (never something inherited from `Object.prototype`). */
const attr = (
  item: { readonly [attribute: string]: AttributeValue | undefined },
  name: string,
): AttributeValue | undefined => Object.hasOwn(item, name) ? item[name] : undefined;

/** Sets an own attribute, even one named `__proto__` (a valid DynamoDB attribute name). */
const define = (target: { [attribute: string]: unknown }, name: string, value: unknown): void => {
  if (name === "__proto__") {
    Object.defineProperty(target, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[name] = value;
};

/** A validated deep copy of a value at nesting `level` (a top-level value is at level 0). */
const copyIn = (value: unknown, level: number): AttributeValue => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return checkNumber(value);
    case "object": {
      if (value === null) return null;
      if (value instanceof Uint8Array) return value.slice();
      if (level + 1 > MAX_DEPTH) {
        invalid(
          "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
        );
      }
      if (Array.isArray(value)) {
        const list: Array<AttributeValue> = [];
        for (const element of value as ReadonlyArray<unknown>) {
          if (!isDropped(element)) list.push(copyIn(element, level + 1));
        }
        return list;
      }
      if (isPlainObject(value)) {
        const map: { [key: string]: AttributeValue } = {};
        for (const [name, element] of Object.entries(value)) {
          if (isDropped(element)) continue;
          if (name === "") invalid("Empty attribute name");
          define(map, name, copyIn(element, level + 1));
        }
        return map;
      }
      return invalid(`Unsupported type passed: ${Object.prototype.toString.call(value)}`);
    }
    default:
      return invalid(`Unsupported type passed: ${String(value)}`);
  }
};

/** A validated deep copy of a whole item (top-level undefined attributes are left out). */
const copyItemIn = (item: Item): { [attribute: string]: AttributeValue } => {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    invalid("An item must be an object of attributes");
  }
  const out: { [attribute: string]: AttributeValue } = {};
  for (const [name, value] of Object.entries(item)) {
    if (isDropped(value)) continue;
    if (name === "") invalid("Empty attribute name");
    define(out, name, copyIn(value, 0));
  }
  return out;
};

/** A value used in an expression: like an item value, but it must be there. */
const expressionValue = (value: unknown): AttributeValue =>
  value === undefined
    ? invalid("An expression attribute value used in expression is not defined")
    : copyIn(value, 0);

const expressionName = (name: string): string =>
  typeof name === "string" && name !== ""
    ? name
    : invalid("ExpressionAttributeNames contains invalid value: Empty attribute name");

/** A deep copy for the caller: nothing it does to the result reaches the store. */
const copyOut = (value: AttributeValue): AttributeValue => {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return (value as ReadonlyArray<AttributeValue>).map(copyOut);
  const map: { [key: string]: AttributeValue } = {};
  for (const [name, element] of Object.entries(value)) define(map, name, copyOut(element));
  return map;
};

const copyItemOut = (item: Item): Item => copyOut(item) as Item;

// ---------------------------------------------------------------------------------------------
// Ordering and equality, as DynamoDB defines them
// ---------------------------------------------------------------------------------------------

// UTF-16 code units order surrogates (supplementary characters) below U+E000–U+FFFF; UTF-8
// bytes order them above. Shifting both ranges gives code point order, which is UTF-8 order.
const codeUnitRank = (c: number): number => c < 0xd800 ? c : c <= 0xdfff ? c + 0x2000 : c - 0x800;

/** Compares strings by their UTF-8 bytes, as DynamoDB orders sort keys and compares strings. */
const compareStrings = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
};

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
};

/** Orders two scalars of the same type (S, N or B); `undefined` when they cannot be ordered. */
const order = (a: AttributeValue, b: AttributeValue): number | undefined => {
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  return undefined;
};

/** Structural equality; values of different types are never equal. */
const equal = (a: AttributeValue, b: AttributeValue): boolean => {
  const type = typeOf(a);
  if (type !== typeOf(b)) return false;
  switch (type) {
    case "S":
    case "N":
    case "BOOL":
    case "NULL":
      return a === b;
    case "B":
      return compareBytes(a as Uint8Array, b as Uint8Array) === 0;
    case "L": {
      const x = a as ReadonlyArray<AttributeValue>;
      const y = b as ReadonlyArray<AttributeValue>;
      return x.length === y.length && x.every((element, i) => equal(element, y[i]!));
    }
    case "M": {
      const x = a as { readonly [key: string]: AttributeValue };
      const y = b as { readonly [key: string]: AttributeValue };
      const names = Object.keys(x);
      return names.length === Object.keys(y).length &&
        names.every((name) => Object.hasOwn(y, name) && equal(x[name]!, y[name]!));
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

const ORDERING: ReadonlySet<Comparator> = new Set(["<", "<=", ">", ">="]);
const COMPARATORS: ReadonlySet<string> = new Set(["=", "<>", "<", "<=", ">", ">="]);

/** Validates a folded condition and copies its values in, as DynamoDB parses an expression. */
const checkCondition = (condition: Condition, names: Set<string>): Condition => {
  switch (condition._tag) {
    case "Exists":
    case "NotExists":
      names.add(expressionName(condition.attribute));
      return condition;
    case "Compare": {
      names.add(expressionName(condition.attribute));
      if (!COMPARATORS.has(condition.op)) invalid(`Invalid comparator: ${condition.op}`);
      const value = expressionValue(condition.value);
      const type = typeOf(value);
      if (ORDERING.has(condition.op) && type !== "S" && type !== "N" && type !== "B") {
        invalid(
          `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: ${condition.op}, operand type: ${type}`,
        );
      }
      return { ...condition, value };
    }
    case "In": {
      names.add(expressionName(condition.attribute));
      if (condition.values.length > MAX_IN_OPERANDS) {
        invalid(
          `Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: ${condition.values.length}`,
        );
      }
      return { ...condition, values: condition.values.map(expressionValue) };
    }
    case "BeginsWith": {
      names.add(expressionName(condition.attribute));
      const prefix = expressionValue(condition.prefix);
      const type = typeOf(prefix);
      if (type !== "S" && type !== "B") {
        invalid(
          `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: ${type}`,
        );
      }
      return { ...condition, prefix: prefix as string };
    }
    case "And":
    case "Or":
      return {
        ...condition,
        conditions: condition.conditions.map((c) => checkCondition(c, names)),
      };
    case "Not":
      return { ...condition, condition: checkCondition(condition.condition, names) };
  }
};

/** A checked condition: `true`/`false` when it folded to a constant. */
interface Prepared {
  readonly condition: boolean | Condition;
  /** The attribute names it reads. */
  readonly names: ReadonlySet<string>;
}

const prepareCondition = (condition: Condition | undefined): Prepared => {
  const names = new Set<string>();
  if (condition === undefined) return { condition: true, names };
  const folded = fold(condition);
  return {
    condition: typeof folded === "boolean" ? folded : checkCondition(folded, names),
    names,
  };
};

const beginsWith = (value: AttributeValue, prefix: AttributeValue): boolean => {
  if (typeof value === "string" && typeof prefix === "string") return value.startsWith(prefix);
  if (value instanceof Uint8Array && prefix instanceof Uint8Array) {
    return prefix.length <= value.length &&
      compareBytes(value.subarray(0, prefix.length), prefix) === 0;
  }
  return false;
};

/**
 * Evaluates a checked condition against an item (a missing item has no attributes). A
 * comparison with a missing attribute, or with a value of another type, is false — except `<>`,
 * which is then true (DynamoDB Local and dynalite agree on this).
 */
const evaluate = (condition: Condition, item: Item | undefined): boolean => {
  switch (condition._tag) {
    case "Exists":
      return item !== undefined && Object.hasOwn(item, condition.attribute);
    case "NotExists":
      return item === undefined || !Object.hasOwn(item, condition.attribute);
    case "Compare": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      if (actual === undefined) return condition.op === "<>";
      if (condition.op === "=") return equal(actual, condition.value);
      if (condition.op === "<>") return !equal(actual, condition.value);
      const c = order(actual, condition.value);
      if (c === undefined) return false;
      switch (condition.op) {
        case "<":
          return c < 0;
        case "<=":
          return c <= 0;
        case ">":
          return c > 0;
        default:
          return c >= 0;
      }
    }
    case "In": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      return actual !== undefined && condition.values.some((v) => equal(actual, v));
    }
    case "BeginsWith": {
      const actual = item === undefined ? undefined : attr(item, condition.attribute);
      return actual !== undefined && beginsWith(actual, condition.prefix);
    }
    case "And":
      return condition.conditions.every((c) => evaluate(c, item));
    case "Or":
      return condition.conditions.some((c) => evaluate(c, item));
    case "Not":
      return !evaluate(condition.condition, item);
  }
};

const holds = (prepared: Prepared, item: Item | undefined): boolean =>
  typeof prepared.condition === "boolean" ? prepared.condition : evaluate(prepared.condition, item);

// ---------------------------------------------------------------------------------------------
// Decimal arithmetic for ADD (DynamoDB adds decimals exactly: 0.1 + 0.2 = 0.3)
// ---------------------------------------------------------------------------------------------

const toDecimal = (n: number): { readonly digits: bigint; readonly exponent: number } => {
  const [coefficient = "0", exponentText] = String(n).toLowerCase().split("e");
  const [integerPart = "0", fractionPart = ""] = coefficient.split(".");
  return {
    digits: BigInt(integerPart + fractionPart),
    exponent: (exponentText === undefined ? 0 : Number(exponentText)) - fractionPart.length,
  };
};

const addDecimal = (a: number, b: number): number => {
  const x = toDecimal(a);
  const y = toDecimal(b);
  const exponent = Math.min(x.exponent, y.exponent);
  let digits = x.digits * 10n ** BigInt(x.exponent - exponent) +
    y.digits * 10n ** BigInt(y.exponent - exponent);
  if (digits === 0n) return 0;
  let e = exponent;
  while (digits % 10n === 0n) {
    digits /= 10n;
    e += 1;
  }
  const text = (digits < 0n ? -digits : digits).toString();
  if (text.length > 38) invalid("DynamoDB only supports precision up to 38 digits");
  const magnitude = text.length - 1 + e;
  if (magnitude >= 126) {
    invalid(
      "Number overflow. Attempting to store a number with magnitude larger than supported range",
    );
  }
  return checkNumber(Number(`${digits}e${e}`));
};

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

interface IndexState {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly projection: "KEYS_ONLY" | "ALL" | ReadonlyArray<string>;
  /** The attributes an entry holds, or `undefined` for all. */
  readonly projected: ReadonlySet<string> | undefined;
  /** Index partition value → table key id → item: what queries see. */
  readonly partitions: Map<string, Map<string, Item>>;
  /** Table key id → the index partition its visible entry is in. */
  readonly located: Map<string, string>;
  /** With index lag: the changes not yet visible, in the order they were made. */
  pending: Array<PendingEntry>;
  /** With index lag: table key id → when its latest pending change becomes visible. */
  readonly lastDue: Map<string, number>;
}

/** An index change waiting out the index lag: the item's new entry, or its removal. */
interface PendingEntry {
  readonly due: number;
  readonly seq: number;
  readonly id: string;
  readonly item: Item | undefined;
}

interface TableState {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: ReadonlyMap<string, IndexState>;
  ttlAttribute: string | undefined;
  /** Partition value → sort value → item. */
  readonly partitions: Map<string, Map<string, Item>>;
}

const keyId = (pk: string, sk: string): string => JSON.stringify([pk, sk]);

const checkTableName = (name: string): string =>
  typeof name === "string" && TABLE_NAME.test(name) ? name : invalid(
    "Invalid table/index name.  Table/index names must be between 3 and 255 characters long, and may contain only the characters a-z, A-Z, 0-9, '_', '-', and '.'",
  );

const checkDefinitionName = (name: string): string =>
  typeof name === "string" && name.length >= 1 && name.length <= 255 ? name : invalid(
    "Names of key attributes and attributes projected into an index must be between 1 and 255 characters, inclusive",
  );

const makeIndex = (
  table: { readonly partitionKey: string; readonly sortKey: string },
  index: IndexDefinition,
): IndexState => {
  checkTableName(index.name);
  checkDefinitionName(index.partitionKey);
  checkDefinitionName(index.sortKey);
  if (index.partitionKey === index.sortKey) invalid("Two keys can not have the same name");
  const projection = index.projection;
  let stored: IndexState["projection"];
  let projected: Set<string> | undefined;
  if (projection === "ALL") {
    stored = "ALL";
    projected = undefined;
  } else {
    const include = projection === "KEYS_ONLY" ? [] : [...projection];
    // The live layer creates an empty INCLUDE list as KEYS_ONLY.
    stored = include.length === 0 ? "KEYS_ONLY" : include;
    if (new Set(include).size !== include.length) {
      invalid("Cannot have two attributes with the same name");
    }
    include.forEach(checkDefinitionName);
    projected = new Set([
      table.partitionKey,
      table.sortKey,
      index.partitionKey,
      index.sortKey,
      ...include,
    ]);
  }
  return {
    name: index.name,
    partitionKey: index.partitionKey,
    sortKey: index.sortKey,
    projection: stored,
    projected,
    partitions: new Map(),
    located: new Map(),
    pending: [],
    lastDue: new Map(),
  };
};

const makeTable = (definition: TableDefinition): TableState => {
  checkTableName(definition.name);
  checkDefinitionName(definition.partitionKey);
  checkDefinitionName(definition.sortKey);
  if (definition.partitionKey === definition.sortKey) {
    invalid("Two keys can not have the same name");
  }
  const definitions = definition.indexes ?? [];
  if (definitions.length > MAX_INDEXES) {
    invalid("GlobalSecondaryIndex count exceeds the per-table limit");
  }
  const indexes = new Map<string, IndexState>();
  let projectedCount = 0;
  for (const index of definitions) {
    if (indexes.has(index.name)) invalid("Two global secondary indices have the same name");
    const state = makeIndex(definition, index);
    if (Array.isArray(state.projection)) projectedCount += state.projection.length;
    indexes.set(index.name, state);
  }
  if (projectedCount > MAX_PROJECTED_ATTRIBUTES) {
    invalid(
      `One or more parameter values were invalid: the indexes project ${projectedCount} non-key attributes; at most ${MAX_PROJECTED_ATTRIBUTES} are allowed per table`,
    );
  }
  return {
    name: definition.name,
    partitionKey: definition.partitionKey,
    sortKey: definition.sortKey,
    indexes,
    ttlAttribute: undefined,
    partitions: new Map(),
  };
};

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

interface TableKey {
  readonly pk: string;
  readonly sk: string;
  readonly key: Key;
}

const emptyKeyValue = (attribute: string): never =>
  invalid(
    `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${attribute}`,
  );

const checkKeySizes = (pk: string, sk: string): void => {
  if (utf8Length(pk) > MAX_PARTITION_KEY_BYTES || utf8Length(sk) > MAX_SORT_KEY_BYTES) {
    invalid(
      "Hash primary key values must be under 2048 bytes, and range primary key values must be under 1024 bytes",
    );
  }
};

/** Validates a key given on its own (get, delete, update, batch and transaction keys). */
const checkKey = (table: TableState, key: Key): TableKey => {
  if (typeof key !== "object" || key === null) {
    invalid("The provided key element does not match the schema");
  }
  const present = Object.entries(key).filter(([, v]) => v !== undefined);
  const pk = attr(key, table.partitionKey);
  const sk = attr(key, table.sortKey);
  if (present.length !== 2 || pk === undefined || sk === undefined) {
    invalid("The provided key element does not match the schema");
  }
  if (typeof pk !== "string" || typeof sk !== "string") {
    return invalid("The provided key element does not match the schema");
  }
  if (pk === "") emptyKeyValue(table.partitionKey);
  if (sk === "") emptyKeyValue(table.sortKey);
  checkKeySizes(pk, sk);
  return { pk, sk, key: { [table.partitionKey]: pk, [table.sortKey]: sk } };
};

/** Validates the key attributes of a whole item (put). */
const checkItemKey = (table: TableState, item: Item): TableKey => {
  const attribute = (name: string): string => {
    const value = attr(item, name);
    if (value === undefined) {
      invalid(`One or more parameter values were invalid: Missing the key ${name} in the item`);
    }
    if (typeof value !== "string") {
      return invalid(
        `One or more parameter values were invalid: Type mismatch for key ${name} expected: S actual: ${
          typeOf(value!)
        }`,
      );
    }
    if (value === "") emptyKeyValue(name);
    return value;
  };
  const pk = attribute(table.partitionKey);
  const sk = attribute(table.sortKey);
  checkKeySizes(pk, sk);
  return { pk, sk, key: { [table.partitionKey]: pk, [table.sortKey]: sk } };
};

/**
 * Validates an item's index keys: where present they must be non-empty strings within the key
 * size limits (an item lacking either is simply not in that index).
 */
const checkIndexKeys = (table: TableState, item: Item, updating: boolean): void => {
  for (const index of table.indexes.values()) {
    for (
      const [attribute, limit] of [
        [index.partitionKey, MAX_PARTITION_KEY_BYTES],
        [index.sortKey, MAX_SORT_KEY_BYTES],
      ] as const
    ) {
      const value = attr(item, attribute);
      if (value === undefined) continue;
      if (typeof value !== "string") {
        invalid(
          `One or more parameter values were invalid: Type mismatch for Index Key ${attribute} Expected: S Actual: ${
            typeOf(value)
          } IndexName: ${index.name}`,
        );
      }
      if (value === "") {
        invalid(
          updating
            ? "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value."
            : `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: ${index.name}, IndexKey: ${attribute}`,
        );
      }
      if (utf8Length(value as string) > limit) {
        invalid(
          `One or more parameter values were invalid: Size limit exceeded: index key ${attribute} of ${index.name} is over ${limit} bytes`,
        );
      }
    }
  }
};

const checkItemSize = (item: Item, updating: boolean): void => {
  if (itemSize(item) > MAX_ITEM_BYTES) {
    invalid(
      updating
        ? "Item size to update has exceeded the maximum allowed size"
        : "Item size has exceeded the maximum allowed size",
    );
  }
};

/** The key of an item as an index query reports it: table key plus index key. */
const indexKeyOf = (table: TableState, index: IndexState | undefined, item: Item): Key => {
  const key: { [attribute: string]: string } = {};
  const names = index === undefined
    ? [table.partitionKey, table.sortKey]
    : [table.partitionKey, table.sortKey, index.partitionKey, index.sortKey];
  for (const name of names) define(key, name, attr(item, name));
  return key;
};

// ---------------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------------

interface CheckedUpdate {
  readonly set: ReadonlyArray<readonly [string, AttributeValue]>;
  readonly add: ReadonlyArray<readonly [string, number]>;
  readonly remove: ReadonlyArray<string>;
}

/** Validates an update on its own, before the table or the item is looked at. */
const checkUpdate = (update: Update): CheckedUpdate => {
  const set = Object.entries(update.set ?? {}).map(([name, value]) =>
    [expressionName(name), expressionValue(value)] as const
  );
  const add = Object.entries(update.add ?? {}).map(([name, value]) => {
    const checked = expressionValue(value);
    if (typeof checked !== "number") {
      invalid(
        `Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${
          typeOf(checked)
        }`,
      );
    }
    return [expressionName(name), checked as number] as const;
  });
  const remove = (update.remove ?? []).map(expressionName);
  if (set.length + add.length + remove.length === 0) {
    invalid("an update needs at least one set, add or remove action");
  }
  const seen = new Set<string>();
  for (const name of [...set.map(([n]) => n), ...add.map(([n]) => n), ...remove]) {
    if (seen.has(name)) {
      invalid(
        `Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${name}], path two: [${name}]`,
      );
    }
    seen.add(name);
  }
  return { set, add, remove };
};

/** Checks that an update leaves the key alone and that its own values fit in an item. */
const checkUpdateAgainst = (table: TableState, target: TableKey, update: CheckedUpdate): void => {
  for (
    const name of [
      ...update.set.map(([n]) => n),
      ...update.add.map(([n]) => n),
      ...update.remove,
    ]
  ) {
    if (name === table.partitionKey || name === table.sortKey) {
      invalid(
        `One or more parameter values were invalid: Cannot update attribute ${name}. This attribute is part of the key`,
      );
    }
  }
  // DynamoDB rejects an update whose own values cannot fit, before looking at the item.
  const own: { [attribute: string]: AttributeValue } = { ...target.key };
  for (const [name, value] of update.set) define(own, name, value);
  for (const [name, value] of update.add) define(own, name, value);
  checkItemSize(own, true);
};

/** The item an update produces (before the index and size checks of the result). */
const applyUpdate = (
  current: Item | undefined,
  target: TableKey,
  update: CheckedUpdate,
): { [attribute: string]: AttributeValue } => {
  const next: { [attribute: string]: AttributeValue } = { ...(current ?? target.key) };
  for (const [name, value] of update.set) define(next, name, value);
  for (const [name, value] of update.add) {
    const old = attr(next, name);
    if (old === undefined) define(next, name, value);
    else if (typeof old === "number") define(next, name, addDecimal(old, value));
    else invalid("An operand in the update expression has an incorrect data type");
  }
  for (const name of update.remove) delete next[name];
  return next;
};

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

const keyTypeMismatch = (): never =>
  invalid(
    "One or more parameter values were invalid: Condition parameter type does not match schema type",
  );

interface CheckedSort {
  readonly attribute: string;
  readonly test: (value: string) => boolean;
}

const checkKeyConditionValue = (attribute: string, value: unknown): string => {
  if (typeof value !== "string") return keyTypeMismatch();
  if (value === "") emptyKeyValue(attribute);
  return value;
};

const checkSortCondition = (attribute: string, condition: SortKeyCondition): CheckedSort => {
  switch (condition._tag) {
    case "Compare": {
      const value = checkKeyConditionValue(attribute, condition.value);
      const op = condition.op;
      if (!ORDERING.has(op) && op !== "=") {
        invalid(`Invalid KeyConditionExpression operator: ${op}`);
      }
      return {
        attribute,
        test: (v) => {
          const c = compareStrings(v, value);
          return op === "="
            ? c === 0
            : op === "<"
            ? c < 0
            : op === "<="
            ? c <= 0
            : op === ">"
            ? c > 0
            : c >= 0;
        },
      };
    }
    case "Between": {
      const low = checkKeyConditionValue(attribute, condition.low);
      const high = checkKeyConditionValue(attribute, condition.high);
      if (compareStrings(low, high) > 0) {
        invalid(
          `Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:${low}}, upper bound operand: AttributeValue: {S:${high}}`,
        );
      }
      return {
        attribute,
        test: (v) => compareStrings(v, low) >= 0 && compareStrings(v, high) <= 0,
      };
    }
    case "BeginsWith": {
      const prefix = checkKeyConditionValue(attribute, condition.prefix);
      return { attribute, test: (v) => v.startsWith(prefix) };
    }
  }
};

/** What an index entry holds: the table and index keys plus the projected attributes. */
const project = (index: IndexState | undefined, item: Item): Item => {
  if (index === undefined || index.projected === undefined) return item;
  const out: { [attribute: string]: AttributeValue } = {};
  for (const name of index.projected) {
    const value = attr(item, name);
    if (value !== undefined) define(out, name, value);
  }
  return out;
};

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

const makeService = (options: MemoryOptions): DynamoDB => {
  const transactions = options.transactions ?? true;
  const ttl = options.ttl ?? true;
  const tables = new Map<string, TableState>();
  const lag = options.indexLag === undefined
    ? 0
    : Math.max(0, Duration.toMillis(Duration.decode(options.indexLag)));
  if (!Number.isFinite(lag)) throw new RangeError("indexLag must be a finite duration");
  const random = options.indexLagSeed === undefined
    ? undefined
    : seededRandom(options.indexLagSeed);
  /** The time of the operation being run (set at its start, only when there is index lag). */
  let clockNow = 0;
  let sequence = 0;

  /**
   * Runs `body` with the current time when there is index lag (without reading the clock
   * otherwise). The time is set inside the same synchronous step as the operation itself.
   */
  const timed = <A, E>(f: (tick: () => void) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
    lag === 0 ? f(() => {}) : Effect.flatMap(Clock.currentTimeMillis, (t) =>
      f(() => {
        clockNow = t;
      }));

  /** Shows or hides one item's entry in an index's visible view. */
  const applyEntry = (index: IndexState, id: string, item: Item | undefined): void => {
    const old = index.located.get(id);
    if (old !== undefined) {
      const partition = index.partitions.get(old);
      partition?.delete(id);
      if (partition?.size === 0) index.partitions.delete(old);
      index.located.delete(id);
    }
    if (item === undefined) return;
    const ipk = attr(item, index.partitionKey);
    // Sparse: an item lacking either index key is not in the index.
    if (typeof ipk !== "string" || typeof attr(item, index.sortKey) !== "string") return;
    let entries = index.partitions.get(ipk);
    if (entries === undefined) {
      entries = new Map();
      index.partitions.set(ipk, entries);
    }
    entries.set(id, item);
    index.located.set(id, ipk);
  };

  /** Records an item's new index entry (or its removal): at once, or after the index lag. */
  const indexChange = (table: TableState, target: TableKey, item: Item | undefined): void => {
    const id = keyId(target.pk, target.sk);
    for (const index of table.indexes.values()) {
      if (lag === 0) {
        applyEntry(index, id, item);
        continue;
      }
      const delay = random === undefined ? lag : random() * lag;
      // One item's changes become visible in the order they were made.
      const due = Math.max(clockNow + delay, index.lastDue.get(id) ?? -Infinity);
      index.lastDue.set(id, due);
      index.pending.push({ due, seq: sequence++, id, item });
    }
  };

  /** Makes visible every index change whose lag has passed, in the order they became due. */
  const settleIndex = (index: IndexState): void => {
    if (index.pending.length === 0) return;
    const due = index.pending.filter((p) => p.due <= clockNow);
    if (due.length === 0) return;
    index.pending = index.pending.filter((p) => p.due > clockNow);
    due.sort((a, b) => a.due - b.due || a.seq - b.seq);
    for (const p of due) {
      applyEntry(index, p.id, p.item);
      if (index.lastDue.get(p.id) === p.due) index.lastDue.delete(p.id);
    }
  };

  const tableOf = (name: string): TableState => {
    checkTableName(name);
    const table = tables.get(name);
    if (table === undefined) {
      throw new Rejection(
        "TableNotFound",
        `Requested resource not found: Table: ${name} not found`,
      );
    }
    return table;
  };

  const read = (table: TableState, target: TableKey): Item | undefined =>
    table.partitions.get(target.pk)?.get(target.sk);

  const remove = (table: TableState, target: TableKey): void => {
    const partition = table.partitions.get(target.pk);
    const old = partition?.get(target.sk);
    if (partition === undefined || old === undefined) return;
    indexChange(table, target, undefined);
    partition.delete(target.sk);
    if (partition.size === 0) table.partitions.delete(target.pk);
  };

  const write = (table: TableState, target: TableKey, item: Item): void => {
    let partition = table.partitions.get(target.pk);
    if (partition === undefined) {
      partition = new Map();
      table.partitions.set(target.pk, partition);
    }
    partition.set(target.sk, item);
    indexChange(table, target, item);
  };

  /** Validates a put: the item, its keys, its index keys and its size. */
  const preparePut = (table: TableState, given: Item) => {
    const item = copyItemIn(given);
    const target = checkItemKey(table, item);
    checkIndexKeys(table, item, false);
    checkItemSize(item, false);
    return { target, item };
  };

  /** Computes and validates the item an update produces. */
  const updated = (
    table: TableState,
    target: TableKey,
    current: Item | undefined,
    update: CheckedUpdate,
  ): Item => {
    const next = applyUpdate(current, target, update);
    checkIndexKeys(table, next, true);
    checkItemSize(next, true);
    return next;
  };

  const query = (tableName: string, q: Query): QueryPage => {
    if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1)) {
      invalid("Limit must be greater than or equal to 1");
    }
    const table = tableOf(tableName);
    let index: IndexState | undefined;
    if (q.index !== undefined) {
      index = table.indexes.get(q.index);
      if (index === undefined) invalid(`The table does not have the specified index: ${q.index}`);
      if (q.consistent === true) {
        invalid("Consistent reads are not supported on global secondary indexes");
      }
    }
    const hashKey = index?.partitionKey ?? table.partitionKey;
    const rangeKey = index?.sortKey ?? table.sortKey;
    if (q.partition.attribute !== hashKey) {
      invalid(`Query condition missed key schema element: ${hashKey}`);
    }
    const partitionValue = checkKeyConditionValue(hashKey, q.partition.value);
    let sort: CheckedSort | undefined;
    if (q.sort !== undefined) {
      if (q.sort.attribute !== rangeKey) {
        invalid(`Query condition missed key schema element: ${rangeKey}`);
      }
      sort = checkSortCondition(rangeKey, q.sort.condition);
    }
    const filter = prepareCondition(q.filter);
    for (const name of filter.names) {
      if (name === hashKey || name === rangeKey) {
        invalid(
          `Filter Expression can only contain non-primary key attributes: Primary key attribute: ${name}`,
        );
      }
    }
    if (index?.projected !== undefined) {
      const missing = [...filter.names].filter((name) => !index.projected!.has(name));
      if (missing.length > 0) {
        invalid(
          `One or more parameter values were invalid: Secondary index ${index.name} does not project one or more filter attributes: [${
            missing.join(", ")
          }]`,
        );
      }
    }

    // The entries of the partition in index order: sort key, then (for an index, whose sort
    // keys need not be unique) the table key.
    type Entry = { readonly item: Item; readonly position: ReadonlyArray<string> };
    const entries: Array<Entry> = [];
    if (index === undefined) {
      for (const [sk, item] of table.partitions.get(partitionValue) ?? []) {
        entries.push({ item, position: [sk] });
      }
    } else {
      settleIndex(index);
      for (const item of index.partitions.get(partitionValue)?.values() ?? []) {
        entries.push({
          item,
          position: [
            attr(item, index.sortKey) as string,
            attr(item, table.partitionKey) as string,
            attr(item, table.sortKey) as string,
          ],
        });
      }
    }
    const comparePositions = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
      for (let i = 0; i < a.length; i++) {
        const c = compareStrings(a[i]!, b[i]!);
        if (c !== 0) return c;
      }
      return 0;
    };
    const direction = q.ascending === false ? -1 : 1;
    let selected = entries.filter((e) => sort === undefined || sort.test(e.position[0]!));
    selected.sort((a, b) => direction * comparePositions(a.position, b.position));

    if (q.startKey !== undefined) {
      const start = q.startKey;
      const expected = new Set([table.partitionKey, table.sortKey]);
      if (index !== undefined) {
        expected.add(index.partitionKey);
        expected.add(index.sortKey);
      }
      const given = Object.entries(start).filter(([, v]) => v !== undefined);
      if (
        given.length !== expected.size ||
        !given.every(([name, value]) => expected.has(name) && typeof value === "string")
      ) {
        invalid(
          "The provided starting key is invalid: The provided key element does not match the schema",
        );
      }
      const value = (name: string) => attr(start, name) as string;
      if (value(hashKey) !== partitionValue) {
        invalid(
          "The provided starting key is outside query boundaries based on provided conditions",
        );
      }
      if (sort !== undefined && !sort.test(value(rangeKey))) {
        invalid("The provided starting key does not match the range key predicate");
      }
      const startPosition = index === undefined
        ? [value(table.sortKey)]
        : [value(index.sortKey), value(table.partitionKey), value(table.sortKey)];
      // Exclusive: continue after the start position, whether or not an item is there.
      selected = selected.filter((e) =>
        direction * comparePositions(e.position, startPosition) > 0
      );
    }

    const items: Array<Item> = [];
    let evaluated = 0;
    let bytes = 0;
    let lastKey: Key | undefined;
    for (const entry of selected) {
      const entryItem = project(index, entry.item);
      evaluated += 1;
      bytes += itemSize(entryItem);
      // The limit and the 1 MB page count items read, before the filter.
      if (holds(filter, entryItem)) items.push(copyItemOut(entryItem));
      if ((q.limit !== undefined && evaluated >= q.limit) || bytes >= MAX_PAGE_BYTES) {
        // DynamoDB returns the position when the page is full, even if nothing follows it.
        lastKey = indexKeyOf(table, index, entry.item);
        break;
      }
    }
    return lastKey === undefined ? { items } : { items, lastKey };
  };

  const service: DynamoDB = {
    get: (table, key) =>
      attempt("get", () => {
        const state = tableOf(table);
        const item = read(state, checkKey(state, key));
        return item === undefined ? undefined : copyItemOut(item);
      }),

    put: (table, item, options) =>
      timed((tick) =>
        attemptWrite("put", () => {
          tick();
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const { target, item: stored } = preparePut(state, item);
          if (!holds(condition, read(state, target))) throw new ConditionFalse(table, target.key);
          write(state, target, stored);
        })
      ),

    update: (table, key, update, options) =>
      timed((tick) =>
        attemptWrite("update", () => {
          tick();
          const checked = checkUpdate(update);
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const target = checkKey(state, key);
          checkUpdateAgainst(state, target, checked);
          const current = read(state, target);
          if (!holds(condition, current)) {
            throw new ConditionFalse(
              table,
              target.key,
              options?.itemOnConditionFailure === true && current !== undefined
                ? copyItemOut(current)
                : undefined,
            );
          }
          const next = updated(state, target, current, checked);
          write(state, target, next);
          return copyItemOut(next);
        })
      ),

    delete: (table, key, options) =>
      timed((tick) =>
        attemptWrite("delete", () => {
          tick();
          const condition = prepareCondition(options?.condition);
          const state = tableOf(table);
          const target = checkKey(state, key);
          const current = read(state, target);
          if (!holds(condition, current)) throw new ConditionFalse(table, target.key);
          remove(state, target);
          return current === undefined ? undefined : copyItemOut(current);
        })
      ),

    query: (table, q) =>
      timed((tick) =>
        attempt("query", () => {
          tick();
          return query(table, q);
        })
      ),

    batchGet: (table, keys) =>
      attempt("batchGet", () => {
        // As the live layer: an empty batch sends no request.
        if (keys.length === 0) return { items: [], unprocessed: [] };
        if (keys.length > MAX_BATCH_GET) {
          invalid("Too many items requested for the BatchGetItem call");
        }
        const state = tableOf(table);
        const targets = keys.map((key) => checkKey(state, key));
        if (new Set(targets.map((t) => keyId(t.pk, t.sk))).size !== targets.length) {
          invalid("Provided list of item keys contains duplicates");
        }
        const items: Array<Item> = [];
        const unprocessed: Array<Key> = [];
        let bytes = 0;
        for (const target of targets) {
          if (unprocessed.length > 0) {
            unprocessed.push(target.key);
            continue;
          }
          const item = read(state, target);
          if (item === undefined) continue;
          const size = itemSize(item);
          // A response holds at most 16 MB: the keys past that come back to be asked again.
          if (bytes + size > MAX_BATCH_GET_BYTES) {
            unprocessed.push(target.key);
            continue;
          }
          bytes += size;
          items.push(copyItemOut(item));
        }
        return { items, unprocessed };
      }),

    batchWrite: (table, requests) =>
      timed((tick) =>
        attempt("batchWrite", (): BatchWriteResult => {
          tick();
          if (requests.length === 0) return { unprocessed: [] };
          if (requests.length > MAX_BATCH_WRITE) {
            invalid("Too many items requested for the BatchWriteItem call");
          }
          const state = tableOf(table);
          const writes = requests.map((request: BatchWriteRequest) =>
            request._tag === "Put"
              ? { _tag: "Put" as const, ...preparePut(state, request.item) }
              : { _tag: "Delete" as const, target: checkKey(state, request.key) }
          );
          if (new Set(writes.map((w) => keyId(w.target.pk, w.target.sk))).size !== writes.length) {
            invalid("Provided list of item keys contains duplicates");
          }
          // Everything was validated first: the batch is written whole.
          for (const w of writes) {
            if (w._tag === "Put") write(state, w.target, w.item);
            else remove(state, w.target);
          }
          return { unprocessed: [] };
        })
      ),

    transactWrite: (items) =>
      timed((tick) =>
        attemptWrite("transactWrite", () => {
          tick();
          if (!transactions) {
            throw new Rejection(
              "Unsupported",
              "TransactWriteItems is not supported by this backend",
            );
          }
          if (items.length === 0) return;
          if (items.length > MAX_TRANSACT_ITEMS) {
            invalid(`Member must have length less than or equal to ${MAX_TRANSACT_ITEMS}`);
          }
          type Action =
            | { readonly _tag: "Put"; readonly item: Item }
            | { readonly _tag: "Update"; readonly update: CheckedUpdate }
            | { readonly _tag: "Delete" }
            | { readonly _tag: "ConditionCheck" };
          const prepared = items.map((entry: TransactItem) => {
            const condition = prepareCondition(entry.condition);
            const table = tableOf(entry.table);
            switch (entry._tag) {
              case "Put": {
                const { target, item } = preparePut(table, entry.item);
                return { entry, table, target, condition, action: { _tag: "Put", item } as Action };
              }
              case "Update": {
                const update = checkUpdate(entry.update);
                const target = checkKey(table, entry.key);
                checkUpdateAgainst(table, target, update);
                return {
                  entry,
                  table,
                  target,
                  condition,
                  action: { _tag: "Update", update } as Action,
                };
              }
              default:
                return {
                  entry,
                  table,
                  target: checkKey(table, entry.key),
                  condition,
                  action: { _tag: entry._tag } as Action,
                };
            }
          });
          const targets = new Set<string>();
          let payload = 0;
          for (const p of prepared) {
            const id = JSON.stringify([p.table.name, p.target.pk, p.target.sk]);
            if (targets.has(id)) {
              invalid("Transaction request cannot include multiple operations on one item");
            }
            targets.add(id);
            payload += p.action._tag === "Put"
              ? itemSize(p.action.item)
              : p.action._tag === "Update"
              ? itemSize(p.target.key) +
                itemSize(Object.fromEntries([...p.action.update.set, ...p.action.update.add]))
              : itemSize(p.target.key);
          }
          if (payload > MAX_TRANSACT_BYTES) {
            invalid(`Transaction payload size cannot exceed 4MB. Payload Size: ${payload}`);
          }
          // Every condition is checked against the state before the transaction; nothing is
          // written unless all hold.
          let failed: { readonly table: string; readonly key: Key } | undefined;
          const results = prepared.map((p) => {
            const current = read(p.table, p.target);
            if (!holds(p.condition, current)) {
              failed ??= { table: p.table.name, key: p.target.key };
              return undefined;
            }
            return p.action._tag === "Update"
              ? updated(p.table, p.target, current, p.action.update)
              : p.action._tag === "Put"
              ? p.action.item
              : undefined;
          });
          if (failed !== undefined) throw new ConditionFalse(failed.table, failed.key);
          prepared.forEach((p, i) => {
            if (p.action._tag === "Delete") remove(p.table, p.target);
            else if (p.action._tag !== "ConditionCheck") write(p.table, p.target, results[i]!);
          });
        })
      ),

    createTable: (definition) =>
      attempt("createTable", () => {
        const table = makeTable(definition);
        if (tables.has(table.name)) {
          throw new Rejection("TableExists", `Table already exists: ${table.name}`);
        }
        tables.set(table.name, table);
      }),

    describeTable: (table) =>
      attempt("describeTable", (): TableDescription => {
        const state = tableOf(table);
        const keys = (partitionKey: string, sortKey: string) => [
          { attribute: partitionKey, keyType: "HASH" as const, type: "S" },
          { attribute: sortKey, keyType: "RANGE" as const, type: "S" },
        ];
        const description: TableDescription = {
          name: state.name,
          status: "ACTIVE",
          keys: keys(state.partitionKey, state.sortKey),
          indexes: [...state.indexes.values()].map((index) => ({
            name: index.name,
            keys: keys(index.partitionKey, index.sortKey),
            projection: typeof index.projection === "string"
              ? index.projection
              : [...index.projection],
            status: "ACTIVE",
          })),
        };
        return state.ttlAttribute === undefined
          ? description
          : { ...description, ttlAttribute: state.ttlAttribute };
      }),

    enableTimeToLive: (table, attribute) =>
      attempt("enableTimeToLive", () => {
        if (!ttl) {
          throw new Rejection("Unsupported", "UpdateTimeToLive is not supported by this backend");
        }
        const state = tableOf(table);
        checkDefinitionName(attribute);
        if (state.ttlAttribute === attribute) invalid("TimeToLive is already enabled");
        if (state.ttlAttribute !== undefined) {
          invalid("TimeToLive is active on a different AttributeName");
        }
        state.ttlAttribute = attribute;
      }),

    deleteTable: (table) =>
      attempt("deleteTable", () => {
        tableOf(table);
        tables.delete(table);
      }),
  };
  return service;
};

/**
 * A fresh, empty in-memory `DynamoDB` service with transactions and TTL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<DynamoDB> = Effect.sync(() => makeService({}));

/**
 * An in-memory `DynamoDB` layer with only the features given, e.g. `{ transactions: false }` to
 * test code paths for backends without transactions (dynalite), or `{ indexLag: "100 millis" }`
 * for eventually consistent indexes, as DynamoDB's global secondary indexes are. Each build
 * starts empty.
 *
 * @example Simulate a backend without transactions
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { layerMemoryWith } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const program = Effect.flatMap(DynamoDB.DynamoDB, (db) => db.transactWrite([]));
 * // fails with DynamoDBError, reason "Unsupported"
 * Effect.runPromiseExit(program.pipe(Effect.provide(layerMemoryWith({ transactions: false }))));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (options: MemoryOptions): Layer.Layer<DynamoDB> =>
  Layer.sync(DynamoDB, () => makeService(options));

/**
 * An in-memory `DynamoDB` layer. Every build of the layer (every `Effect.provide` of it) starts
 * with an empty store, so tests never share data.
 *
 * @example Provide the in-memory layer in a test
 * ```ts
 * import { DynamoDB } from "@dynamomq/dynamomq";
 * import { layerMemory } from "@dynamomq/dynamomq/testing";
 * import { Effect } from "effect";
 *
 * const test = Effect.gen(function* () {
 *   const db = yield* DynamoDB.DynamoDB;
 *   yield* db.createTable({ name: "test-table", partitionKey: "pk", sortKey: "sk", indexes: [] });
 *   yield* db.put("test-table", { pk: "a", sk: "1" });
 *   const page = yield* db.query("test-table", { partition: { attribute: "pk", value: "a" } });
 *   console.assert(page.items.length === 1);
 * });
 *
 * await Effect.runPromise(test.pipe(Effect.provide(layerMemory)));
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<DynamoDB> = layerMemoryWith({});
