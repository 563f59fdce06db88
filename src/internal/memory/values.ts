/**
 * Attribute values as DynamoDB stores and compares them. Values are copied in validated (numbers
 * finite, exact and not below 1e-130, no empty attribute names, lists and maps nested at most
 * `MAX_DEPTH` deep, no types DynamoDB lacks) and copied out, so nothing a caller holds shares
 * state with the store. Strings order by their UTF-8 bytes, as DynamoDB orders sort keys; values
 * of different types are never equal; `ADD` sums decimals exactly, within 38 digits and
 * magnitude 1e126.
 *
 * @module
 */
import type { AttributeValue, Item } from "../../services/DynamoDB.ts";
import { invalid } from "./failures.ts";
import { MAX_DEPTH } from "./limits.ts";

// ---------------------------------------------------------------------------------------------
// Values: validated deep copies in, deep copies out
// ---------------------------------------------------------------------------------------------

/** DynamoDB's type of a value, as its error messages name it. */
export type TypeName = "S" | "N" | "B" | "BOOL" | "NULL" | "L" | "M";

/** The type of a stored value. */
export const typeOf = (value: AttributeValue): TypeName =>
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
export const attr = (
  item: { readonly [attribute: string]: AttributeValue | undefined },
  name: string,
): AttributeValue | undefined => Object.hasOwn(item, name) ? item[name] : undefined;

/** Sets an own attribute, even one named `__proto__` (a valid DynamoDB attribute name). */
export const define = (
  target: { [attribute: string]: unknown },
  name: string,
  value: unknown,
): void => {
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
export const copyItemIn = (item: Item): { [attribute: string]: AttributeValue } => {
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
export const expressionValue = (value: unknown): AttributeValue =>
  value === undefined
    ? invalid("An expression attribute value used in expression is not defined")
    : copyIn(value, 0);

/** An attribute name used in an expression: it must not be empty. */
export const expressionName = (name: string): string =>
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

/** A deep copy of a stored item for the caller. */
export const copyItemOut = (item: Item): Item => copyOut(item) as Item;

// ---------------------------------------------------------------------------------------------
// Ordering and equality, as DynamoDB defines them
// ---------------------------------------------------------------------------------------------

// UTF-16 code units order surrogates (supplementary characters) below U+E000–U+FFFF; UTF-8
// bytes order them above. Shifting both ranges gives code point order, which is UTF-8 order.
const codeUnitRank = (c: number): number => c < 0xd800 ? c : c <= 0xdfff ? c + 0x2000 : c - 0x800;

/** Compares strings by their UTF-8 bytes, as DynamoDB orders sort keys and compares strings. */
export const compareStrings = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
};

/** Compares binaries byte by byte, as DynamoDB orders them. */
export const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
};

/** Orders two scalars of the same type (S, N or B); `undefined` when they cannot be ordered. */
export const order = (a: AttributeValue, b: AttributeValue): number | undefined => {
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  return undefined;
};

/** Structural equality; values of different types are never equal. */
export const equal = (a: AttributeValue, b: AttributeValue): boolean => {
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

/** `a + b` as DynamoDB's `ADD` computes it: exact in decimal, within its precision and range. */
export const addDecimal = (a: number, b: number): number => {
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
