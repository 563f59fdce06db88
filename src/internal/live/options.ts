/**
 * The live layer's options turned into a `DynamoDBClientConfig`, and the checks that belong to
 * building the layer rather than to its first request: an endpoint must be an http(s) URL, and
 * a loopback endpoint without configured credentials gets static dummy ones (what emulators
 * accept), so the SDK never reports "Could not load credentials" or probes the instance-metadata
 * endpoint for them.
 *
 * @module
 */
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import * as Redacted from "effect/Redacted";
import type { DynamoDBLiveOptions } from "../../layers/DynamoDBLive.ts";
import { isLoopbackUrl } from "../loopback.ts";

/** The options the client config is built from: those of the public `DynamoDBLiveOptions`. */
export type ClientOptions = Pick<
  DynamoDBLiveOptions,
  "region" | "endpoint" | "credentials" | "maxAttempts" | "clientConfig"
>;

/** The dummy credentials of an emulator on a loopback endpoint. */
export const LOCAL_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string } =
  { accessKeyId: "local", secretAccessKey: "local" };

/**
 * Why `endpoint` cannot be a DynamoDB endpoint, or `undefined` when it can: it must parse as a
 * URL with an `http:` or `https:` scheme (`127.0.0.1:8000` does not; `localhost:8000` parses
 * with the scheme `localhost:`).
 */
export const endpointProblem = (endpoint: string): string | undefined => {
  const example = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)
    ? "e.g. http://127.0.0.1:8000"
    : `e.g. http://${endpoint}`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `"${endpoint}" is not a URL: write it with its scheme, ${example}`;
  }
  return url.protocol === "http:" || url.protocol === "https:"
    ? undefined
    : `"${endpoint}" is not an http:// or https:// URL: write it with its scheme, ${example}`;
};

/** The endpoint the client will use when it is a plain string (the SDK may also read the env). */
export const givenEndpoint = (options: ClientOptions): string | undefined =>
  options.endpoint ??
    (typeof options.clientConfig?.endpoint === "string"
      ? options.clientConfig.endpoint
      : undefined);

/**
 * Whether static dummy credentials should be used: the endpoint is loopback, and neither the
 * options nor the environment (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`) configure credentials.
 */
export const useLocalCredentials = (
  options: ClientOptions,
  endpoint: string | undefined,
  credentialsInEnv: boolean,
): boolean =>
  endpoint !== undefined && isLoopbackUrl(endpoint) && options.credentials === undefined &&
  options.clientConfig?.credentials === undefined && !credentialsInEnv;

const reveal = (secret: Redacted.Redacted<string> | string): string =>
  Redacted.isRedacted(secret) ? Redacted.value(secret) : secret;

/** The client config: `clientConfig`, overridden by the named options. */
export const clientConfigOf = (
  options: ClientOptions,
  localCredentials: boolean,
): DynamoDBClientConfig => {
  const config: DynamoDBClientConfig = { ...options.clientConfig };
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  const credentials = options.credentials;
  if (credentials !== undefined) {
    config.credentials = {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: reveal(credentials.secretAccessKey),
      ...(credentials.sessionToken === undefined
        ? {}
        : { sessionToken: reveal(credentials.sessionToken) }),
    };
  } else if (localCredentials) {
    config.credentials = { ...LOCAL_CREDENTIALS };
  }
  return config;
};

/**
 * A client configuration whose default user agent is computed once. The SDK's provider builds it
 * afresh for every request, reading the OS release each time (a system call); for a long-lived
 * client none of its parts change. A provider the caller configured
 * (`clientConfig.defaultUserAgentProvider`) is cached the same way; a failed one is asked again.
 * The SDK's own provider is taken from a client that is never used (its construction is lazy).
 */
export const withCachedUserAgent = (config: DynamoDBClientConfig): DynamoDBClientConfig => {
  let provide = config.defaultUserAgentProvider;
  if (provide === undefined) {
    const probe = new DynamoDBClient({ region: "us-east-1" });
    provide = probe.config.defaultUserAgentProvider;
    probe.destroy();
  }
  const inner = provide;
  let cached: ReturnType<typeof inner> | undefined;
  return {
    ...config,
    defaultUserAgentProvider: () => {
      if (cached === undefined) {
        const p = inner();
        cached = p;
        p.catch(() => {
          if (cached === p) cached = undefined;
        });
      }
      return cached;
    },
  };
};
