// S3 and SQS clients for real AWS or any S3+SQS endpoint behind AWS_ENDPOINT_URL, with
// connection pools we own, so that their use can be read (readiness) and their sockets reclaimed.
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "./config.ts";

// A dead endpoint must turn into a quick 503 or a retried job, never a hang.
// - connect: LocalStack and AWS accept a TCP connection in milliseconds; 2 s is a dead host.
const CONNECTION_TIMEOUT_MS = 2_000;
// - until the response's headers: a 20 MiB PutObject on a slow link still fits in 30 s; past it
//   the request is destroyed and retried (the SDK only warns unless told to throw).
const REQUEST_TIMEOUT_MS = 30_000;
// - a socket with no traffic either way for 30 s is destroyed, even after the response began.
//   This is what reclaims a socket whose response body nobody reads (a leak we did not foresee:
//   without it such a socket stays checked out of the pool for ever, and when all of them are,
//   every S3 call waits for a socket and fails). It also ends a download whose client stopped
//   reading for 30 s, which is the price of that guarantee.
const SOCKET_IDLE_TIMEOUT_MS = 30_000;
// The SDK's own default; named here because readiness reports against it.
const MAX_SOCKETS = 50;
const MAX_ATTEMPTS = 3;

export interface PoolUsage {
  /** Sockets checked out of the pool (a request or an unread response holds each). */
  inUse: number;
  /** Open keep-alive sockets waiting in the pool for the next request. */
  idle: number;
  /** Requests waiting for a socket because all MAX_SOCKETS are in use. */
  waiting: number;
  maxSockets: number;
  /** Milliseconds since a socket last came back to the pool: how long a full pool has made no progress. */
  msSinceRelease: number;
}

interface Pool {
  http: HttpAgent;
  https: HttpsAgent;
  maxSockets: number;
  lastReleaseAt: number;
}

const pools = new WeakMap<S3Client | SQSClient, Pool>();

function commonOptions(config: Config, maxSockets = MAX_SOCKETS) {
  const agents: Pool = {
    http: new HttpAgent({ keepAlive: true, maxSockets }),
    https: new HttpsAgent({ keepAlive: true, maxSockets }),
    maxSockets,
    lastReleaseAt: Date.now(),
  };
  for (const agent of [agents.http, agents.https]) {
    agent.on("free", () => {
      agents.lastReleaseAt = Date.now();
    });
  }
  const options = {
    region: config.region,
    maxAttempts: MAX_ATTEMPTS,
    // Options, not a handler instance: the SDK builds its own NodeHttpHandler from them.
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      httpAgent: agents.http,
      httpsAgent: agents.https,
    },
    ...(config.endpointUrl && {
      endpoint: config.endpointUrl,
      // Emulators accept any key; real AWS uses the default credential chain instead.
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    }),
  };
  return { options, agents };
}

/** An S3 client with a pool of its own, of `maxSockets` sockets (the SDK's 50 by default). */
export function createS3Client(config: Config, { maxSockets = MAX_SOCKETS }: { maxSockets?: number } = {}): S3Client {
  const { options, agents } = commonOptions(config, maxSockets);
  const client = new S3Client({
    ...options,
    // Emulators serve buckets by path, not by virtual host (which needs DNS for <bucket>.localhost).
    forcePathStyle: Boolean(config.endpointUrl),
  });
  pools.set(client, agents);
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      // When the idle timeout reclaims a socket whose body nobody reads, it destroys that body
      // with an error; with no listener on it, that error would end the process. Readers of a
      // body still see its errors through their own stream or promise.
      const body = (result.response as { body?: { on?: (event: string, listener: () => void) => void } }).body;
      body?.on?.("error", () => {});
      return result;
    },
    { step: "deserialize", name: "reclaimableBody" },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      // SigV4 hashes a whole in-memory body (SHA-256) into the signature unless told the
      // payload is unsigned; S3 accepts that, and the CRC32 checksum the SDK still computes
      // and signs (x-amz-checksum-crc32, verified by S3) already guarantees the bytes arrive
      // intact. Measured: the hash was the largest single cost of a PutObject after the copy.
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers && ArrayBuffer.isView(request.body)) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    { step: "build", priority: "low", name: "unsignedPayloadWithChecksum" },
  );
  return client;
}

export function createSqsClient(config: Config): SQSClient {
  const { options, agents } = commonOptions(config);
  const client = new SQSClient(options);
  pools.set(client, agents);
  return client;
}

/** Options for another AWS client (deploy/'s CloudFormation): the same endpoint, credentials and timeouts. */
export function awsClientOptions(config: Config) {
  return commonOptions(config).options;
}

/** How much of a client's connection pool is in use, over all the hosts it talks to. */
export function poolUsage(client: S3Client | SQSClient): PoolUsage {
  const agents = pools.get(client);
  const count = (lists: NodeJS.ReadOnlyDict<unknown[]>) =>
    Object.values(lists).reduce((sum, list) => sum + (list?.length ?? 0), 0);
  const usage = {
    inUse: 0,
    idle: 0,
    waiting: 0,
    maxSockets: agents?.maxSockets ?? MAX_SOCKETS,
    msSinceRelease: agents ? Date.now() - agents.lastReleaseAt : 0,
  };
  for (const agent of agents ? [agents.http, agents.https] : []) {
    usage.inUse += count(agent.sockets);
    usage.idle += count(agent.freeSockets);
    usage.waiting += count(agent.requests);
  }
  return usage;
}
