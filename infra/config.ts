// The one place that reads the environment. Everything else receives a Config.
import { availableParallelism, tmpdir } from "node:os";
import { z } from "zod";

const MiB = 1024 * 1024;

// Env values are strings; empty strings count as "not set" so `FOO= npm start` falls back to defaults.
const optionalString = z.preprocess((v) => (v === "" ? undefined : v), z.string().optional());

function integer(min: number, max: number, fallback: number) {
  return z.preprocess((v) => (v === "" || v === undefined ? fallback : v), z.coerce.number().int().min(min).max(max));
}

const queueName = z.string().regex(/^[A-Za-z0-9_-]{1,75}\.fifo$/, "must be a FIFO queue name ending in .fifo");
// S3 bucket naming rules, simplified to the characters they allow.
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name");

// A bearer token (RFC 6750's token68) long enough that nobody guesses it: what no client can send
// in an Authorization header, or a word like "change-me", would lock everyone out or let anyone in.
const MIN_SECRET_LENGTH = 32;
const MAKE_ONE = "make one with: node -e \"console.log(crypto.randomBytes(32).toString('base64url'))\"";
function secretSchema(what: string) {
  return z
    .string()
    .regex(/^[A-Za-z0-9\-._~+/]+=*$/, `${what} may hold only A-Z a-z 0-9 - . _ ~ + / (and = at its end); ${MAKE_ONE}`)
    .min(MIN_SECRET_LENGTH, `${what} must be at least ${MIN_SECRET_LENGTH} characters; ${MAKE_ONE}`);
}

const envSchema = z.object({
  AWS_ENDPOINT_URL: optionalString.pipe(z.url().optional()),
  AWS_REGION: z.string().min(1).default("us-east-1"),
  INPUT_BUCKET: bucketName.default("image-input"),
  OUTPUT_BUCKET: bucketName.default("image-processed"),
  INPUT_QUEUE: queueName.default("new-image-input.fifo"),
  OUTPUT_QUEUE: queueName.default("new-image-processed.fifo"),
  DLQ: queueName.default("new-image-input-dlq.fifo"),
  PORT: integer(0, 65535, 3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  MAX_UPLOAD_BYTES: integer(1, 1024 * MiB, 20 * MiB),
  MAX_INPUT_PIXELS: integer(1, 1_000_000_000, 50_000_000),
  MAX_DOCUMENT_BYTES: integer(1, 4096 * MiB, 100 * MiB),
  MAX_PAGES: integer(1, 10_000, 500),
  // Where the API keeps a document while it is checked and sent to S3 (never in its memory).
  UPLOAD_SPOOL_DIR: z.string().min(1).default(tmpdir()),
  WORKER_CONCURRENCY: integer(1, 64, availableParallelism()),
  VISIBILITY_TIMEOUT_S: integer(5, 43_200, 60),
  WORKER_POLL_WAIT_S: integer(0, 20, 20),
  MAX_RECEIVE_COUNT: integer(1, 1000, 5),
  API_TOKEN: optionalString.pipe(secretSchema("API_TOKEN").optional()),
  // The keys that sign image links: the first signs, every one verifies (two during a rotation).
  LINK_SIGNING_KEY: optionalString.pipe(
    z
      .string()
      .transform((v) => v.split(",").map((key) => key.trim()))
      .pipe(z.array(secretSchema("each key")).min(1).max(2, "holds at most two keys: the new one, then the old one"))
      .optional(),
  ),
  // Without a token, the API answers only requests addressed to these names (and loopback ones).
  PUBLIC_HOSTS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/,
            "each must be a host name, optionally with :port",
          ),
      ),
    ),
  RETENTION_DAYS: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().min(1).max(36_500).optional(),
  ),
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url("each origin must be a URL like https://app.example.com"))),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
  WORKER_METRICS_PORT: integer(0, 65535, 9100),
  LOCALSTACK_PORT: integer(1, 65535, 4566),
  BITONAL_DATA_DIR: optionalString,
  LOCALSTACK_PYTHON: optionalString,
  LOCALSTACK_IMAGE: z.string().min(1).default("localstack/localstack:4.14.0"),
  LOCALSTACK_AUTH_TOKEN: optionalString,
});

/** Every environment variable the configuration reads (deployment files may set no other). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export interface Config {
  /** Unset means real AWS; set means an emulator (LocalStack, moto, …) at this URL. */
  endpointUrl: string | undefined;
  region: string;
  inputBucket: string;
  outputBucket: string;
  inputQueue: string;
  outputQueue: string;
  deadLetterQueue: string;
  port: number;
  host: string;
  maxUploadBytes: number;
  /** Per image; per page of a document. */
  maxInputPixels: number;
  /** A PDF's or TIFF's size; images stay within maxUploadBytes. */
  maxDocumentBytes: number;
  maxPages: number;
  /** A directory for documents being uploaded, each in a file of its own until it is stored. */
  uploadSpoolDir: string;
  workerConcurrency: number;
  visibilityTimeoutSeconds: number;
  /** SQS long-poll wait; a graceful stop waits out at most one poll (drain, don't abort). */
  pollWaitSeconds: number;
  /** Port of the worker's /metrics and /healthz; 0 picks a free one. */
  workerMetricsPort: number;
  maxReceiveCount: number;
  apiToken: string | undefined;
  /** Keys for signed image links, newest first; unset means a random key per process. */
  linkSigningKeys: string[] | undefined;
  /** Host names (with an optional port) a token-less API answers besides loopback ones. */
  publicHosts: string[];
  /** Days after which S3 expires every stored object (a lifecycle rule set by setup); unset keeps them. */
  retentionDays: number | undefined;
  /** Origins allowed to call the API from a browser; empty means CORS off. */
  corsOrigins: string[];
  logLevel: z.infer<typeof envSchema>["LOG_LEVEL"];
  /** auto: one coloured line per event on a terminal, JSON otherwise. */
  logFormat: z.infer<typeof envSchema>["LOG_FORMAT"];
  /** The embedded LocalStack that `npm start`, `npm run localstack` and the tests launch. */
  localstack: LocalStackSettings;
  /** `npm start` only: a folder where every image is kept, and put back at the next start. */
  dataDir: string | undefined;
}

export interface LocalStackSettings {
  port: number;
  /** Python >= 3.12 for the host-mode venv; found on PATH or under pyenv when unset. */
  python: string | undefined;
  /** Image for the Docker path; the last tag that starts without an auth token by default. */
  image: string;
  authToken: string | undefined;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses and validates the environment once; reports every bad variable by name. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  const e = parsed.data;
  return {
    endpointUrl: e.AWS_ENDPOINT_URL,
    region: e.AWS_REGION,
    inputBucket: e.INPUT_BUCKET,
    outputBucket: e.OUTPUT_BUCKET,
    inputQueue: e.INPUT_QUEUE,
    outputQueue: e.OUTPUT_QUEUE,
    deadLetterQueue: e.DLQ,
    port: e.PORT,
    host: e.HOST,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    maxInputPixels: e.MAX_INPUT_PIXELS,
    maxDocumentBytes: e.MAX_DOCUMENT_BYTES,
    maxPages: e.MAX_PAGES,
    uploadSpoolDir: e.UPLOAD_SPOOL_DIR,
    workerConcurrency: e.WORKER_CONCURRENCY,
    visibilityTimeoutSeconds: e.VISIBILITY_TIMEOUT_S,
    pollWaitSeconds: e.WORKER_POLL_WAIT_S,
    workerMetricsPort: e.WORKER_METRICS_PORT,
    maxReceiveCount: e.MAX_RECEIVE_COUNT,
    apiToken: e.API_TOKEN,
    linkSigningKeys: e.LINK_SIGNING_KEY,
    publicHosts: e.PUBLIC_HOSTS,
    retentionDays: e.RETENTION_DAYS,
    corsOrigins: e.CORS_ORIGINS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    dataDir: e.BITONAL_DATA_DIR,
    localstack: {
      port: e.LOCALSTACK_PORT,
      python: e.LOCALSTACK_PYTHON,
      image: e.LOCALSTACK_IMAGE,
      authToken: e.LOCALSTACK_AUTH_TOKEN,
    },
  };
}

/** The variables a child process needs to run at all (a launched emulator gets these, not our config). */
export function baseChildEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const keep = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYENV_ROOT"];
  return Object.fromEntries(keep.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
}

/**
 * The environment for a process of the pipeline itself (`npm start`'s API and worker): this
 * process's own, every setting included, with `overrides` on top.
 */
export function pipelineChildEnv(
  overrides: Record<string, string | undefined>,
  env: Record<string, string | undefined> = process.env,
): Record<string, string | undefined> {
  return { ...env, ...overrides };
}
