/**
 * DynamoDB's item size, computed the way DynamoDB counts it against the 400 KB item limit, the
 * 1 MB query page and the 16 MB batch-get response. Every rule here was measured against
 * DynamoDB Local 3.3 by finding, for each kind of value, the largest item it still accepts:
 *
 * - an item is the sum of its attributes; an attribute is its name's UTF-8 bytes plus its value;
 * - a string is its UTF-8 bytes, a binary its byte length, a boolean or null 1 byte;
 * - a number is 1 byte plus one byte per pair of significant decimal digits, the pairs aligned on
 *   even powers of ten (DynamoDB stores numbers base 100), plus 1 byte when negative; zero is 1;
 * - a list is 3 bytes plus, per element, 1 byte and the element's size;
 * - a map is 3 bytes plus, per entry, 1 byte, the name's UTF-8 bytes and the value's size.
 *
 * Numbers are sized from their shortest decimal form (`String(n)`), which is what the document
 * client sends.
 *
 * @module
 */
import type { AttributeValue, Item } from "../services/DynamoDB.ts";

const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * The number of bytes of a string in UTF-8. A lone surrogate counts as 3 bytes, as its
 * replacement character does when the string is encoded.
 *
 * @since 0.1.0
 * @category sizes
 */
export const utf8Length = (s: string): number => {
  // A long string: ASCII up to the first other character, one byte each, found by the regex
  // engine (several times faster than the loop below, which then counts only the rest).
  const first = s.length < 32 ? 0 : s.search(NOT_ASCII);
  if (first === -1) return s.length;
  let bytes = first;
  for (let i = first; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
};

/**
 * The stored size of a number: 1 byte, plus one byte per base-100 digit of its decimal value,
 * plus 1 byte when it is negative. `0` takes 1 byte.
 *
 * @since 0.1.0
 * @category sizes
 */
export const numberSize = (n: number): number => {
  if (n === 0) return 1;
  if (Number.isSafeInteger(n)) {
    // The common case (times, counts), without going through the decimal text: the digits
    // after dropping trailing zeros are the significant ones.
    let a = Math.abs(n);
    let zeros = 0;
    while (a % 10 === 0) {
      a /= 10;
      zeros++;
    }
    let digits = 1;
    while (a >= 10) {
      a = Math.floor(a / 10);
      digits++;
    }
    const magnitude = digits + zeros - 1;
    return 1 + Math.ceil((digits + (magnitude % 2 === 0 ? 1 : 0)) / 2) + (n < 0 ? 1 : 0);
  }
  const text = String(Math.abs(n)).toLowerCase();
  const [coefficient = "", exponentText] = text.split("e");
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  const [integerPart = "", fractionPart = ""] = coefficient.split(".");
  const allDigits = integerPart + fractionPart;
  const first = allDigits.search(/[1-9]/);
  const significant = allDigits.slice(first).replace(/0+$/, "");
  // The power of ten of the first significant digit.
  const magnitude = integerPart.length - 1 - first + exponent;
  // Base-100 digits are aligned on even powers of ten: a leading digit at an even power sits
  // alone in its pair (1 → "01"), at an odd power it shares the pair with the next (12 → "12").
  const pairs = Math.ceil((significant.length + (magnitude % 2 === 0 ? 1 : 0)) / 2);
  return 1 + pairs + (n < 0 ? 1 : 0);
};

/**
 * The size of one attribute value (without its name).
 *
 * @since 0.1.0
 * @category sizes
 */
export const valueSize = (value: AttributeValue): number => {
  if (typeof value === "string") return utf8Length(value);
  if (typeof value === "number") return numberSize(value);
  if (typeof value === "boolean" || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) {
    let size = 3;
    for (const element of value as ReadonlyArray<AttributeValue | undefined>) {
      // The document client drops undefined elements (`removeUndefinedValues`).
      if (element !== undefined) size += 1 + valueSize(element);
    }
    return size;
  }
  let size = 3;
  const map = value as { [key: string]: AttributeValue | undefined };
  for (const name of Object.keys(map)) {
    const element = map[name];
    if (element !== undefined) size += 1 + utf8Length(name) + valueSize(element);
  }
  return size;
};

/**
 * The size of an item as DynamoDB counts it against its 400 KB (409,600 bytes) limit: for each
 * attribute, the UTF-8 bytes of its name plus the size of its value.
 *
 * @example
 * ```ts
 * import { itemSize } from "./itemSize.ts";
 *
 * itemSize({ pk: "a", sk: "b", n: 12 }); // (2 + 1) + (2 + 1) + (1 + 2) = 9
 * ```
 *
 * @since 0.1.0
 * @category sizes
 */
export const itemSize = (item: Item): number => {
  let size = 0;
  const attributes = item as { [key: string]: AttributeValue | undefined };
  for (const name of Object.keys(attributes)) {
    const value = attributes[name];
    if (value !== undefined) size += utf8Length(name) + valueSize(value);
  }
  return size;
};
