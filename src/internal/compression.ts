/**
 * gzip with the web platform's `CompressionStream` (Deno, Node 18+, browsers), so payloads over
 * the queue's threshold are stored compressed without a runtime-specific dependency.
 */
import * as Effect from "effect/Effect";

const collect = (stream: ReadableStream<Uint8Array>): Promise<Uint8Array> =>
  new Response(stream).arrayBuffer().then((b) => new Uint8Array(b));

const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });

/** gzip-compresses a string's UTF-8 bytes. Compression of bytes in memory cannot fail. */
export const gzip = (text: string): Effect.Effect<Uint8Array> =>
  Effect.promise(() =>
    collect(
      streamOf(new TextEncoder().encode(text)).pipeThrough(
        new CompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>,
      ),
    )
  );

/** Decompresses gzip bytes to a string; fails with the stream's error on corrupt input. */
export const gunzip = (bytes: Uint8Array): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: () =>
      collect(
        streamOf(bytes).pipeThrough(
          new DecompressionStream("gzip") as unknown as ReadableWritablePair<
            Uint8Array,
            Uint8Array
          >,
        ),
      ).then((b) => new TextDecoder("utf-8", { fatal: true }).decode(b)),
    catch: (e) => (e instanceof Error ? e : new Error(String(e))),
  });
