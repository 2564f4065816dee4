// The queue message contract between api/ and worker/: schemas and the one place that sends
// them, choosing MessageGroupId and MessageDeduplicationId.
//
// Version 1: an upload's own processing. Version 2: a rendition, another method applied to a
// stored original, named by `rendition`; a worker that knows only version 1 refuses it (to the
// DLQ) rather than overwrite the upload's own result with it. Version 3: one page of a
// document (the upload's own, or a rendition's, which names it), refused by older workers alike.
import { type Message, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import {
  APPLIED_METHODS,
  BINARIZATION_METHODS,
  type BinarizationMethod,
  BORDER_MODES,
  type BorderMode,
  DEFAULT_FIXED_THRESHOLD,
  DESKEW_MODES,
  type DeskewMode,
} from "../imaging/method-names.ts";

export const DEFAULT_METHOD: BinarizationMethod = "auto";
export const DEFAULT_DESKEW: DeskewMode = "auto";
export const DEFAULT_BORDERS: BorderMode = "clean";

/** What is done to a page's geometry besides binarizing it. */
export interface Geometry {
  deskew: DeskewMode;
  borders: BorderMode;
}

// In every job message. The API always sends both; a message without them is from an API that
// knew neither, whose pages were never turned or cleaned, and is processed as it would have been.
const geometryFields = {
  deskew: z.enum(DESKEW_MODES).optional(),
  borders: z.enum(BORDER_MODES).optional(),
};

/** A job message's geometry, as the worker applies it. */
export function jobGeometry(m: { deskew?: DeskewMode; borders?: BorderMode }): Geometry {
  return { deskew: m.deskew ?? "off", borders: m.borders ?? "keep" };
}

/** What a result is written as: a 1-bit PNG, a CCITT G4 TIFF, or a PDF of G4 images. */
export const OUTPUT_FORMATS = ["png", "tiff", "pdf"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * A rendition's name says what it is: the method, for `fixed` its threshold (`fixed-140`), the
 * geometry where it is not the default (`-deskew-off`, `-borders-keep`, `-borders-crop`), and a
 * format other than the upload's own (`sauvola-pdf`, `otsu-borders-crop-tiff`).
 */
export const renditionNameSchema = z
  .string()
  .regex(
    /^(auto|document|otsu|sauvola|fixed-(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(-deskew-off)?(-borders-(keep|crop))?(-(png|tiff|pdf))?$/,
    "is not a rendition name",
  );

export function renditionName(
  method: BinarizationMethod,
  threshold: number | undefined,
  otherFormat?: OutputFormat,
  geometry: Geometry = { deskew: DEFAULT_DESKEW, borders: DEFAULT_BORDERS },
): string {
  let named = method === "fixed" ? `fixed-${threshold ?? DEFAULT_FIXED_THRESHOLD}` : method;
  if (geometry.deskew !== DEFAULT_DESKEW) named += `-deskew-${geometry.deskew}`;
  if (geometry.borders !== DEFAULT_BORDERS) named += `-borders-${geometry.borders}`;
  return otherFormat ? `${named}-${otherFormat}` : named;
}

/** Whether a rendition's name says the method, threshold and geometry it is made with (whatever its format). */
function namesItsMethod(
  rendition: string,
  m: { method: BinarizationMethod; threshold?: number; deskew?: DeskewMode; borders?: BorderMode },
): boolean {
  // A message without geometry is from an API before it, whose rendition names had none.
  const geometry = m.deskew || m.borders ? jobGeometry(m) : undefined;
  return rendition.replace(/-(png|tiff|pdf)$/, "") === renditionName(m.method, m.threshold, undefined, geometry);
}

// We generate v7 ids (keys sort by upload time); any RFC 9562 UUID from another producer (v4 is
// most libraries' default, and the original Flask pipeline's) is accepted.
export const imageIdSchema = z.uuid();
const objectRef = z.object({ bucket: z.string().min(1), key: z.string().min(1) });
const timestamp = z.iso.datetime();

export const inputMessageSchema = z
  .object({
    version: z.union([z.literal(1), z.literal(2)]),
    id: imageIdSchema,
    bucket: z.string().min(1),
    key: z.string().min(1),
    contentType: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    filename: z.string(),
    method: z.enum(BINARIZATION_METHODS),
    threshold: z.number().int().min(0).max(255).optional(),
    uploadedAt: timestamp,
    /** Version 2 only: the rendition this message makes, `renditionName(method, threshold)`. */
    rendition: renditionNameSchema.optional(),
    /** Version 2 only: when the rendition was asked for (each request is its own job). */
    requestedAt: timestamp.optional(),
    ...geometryFields,
  })
  .refine((m) => (m.version === 2) === (m.rendition !== undefined && m.requestedAt !== undefined), {
    message: "version 2 messages, and only they, name a rendition and when it was requested",
  })
  .refine((m) => m.rendition === undefined || namesItsMethod(m.rendition, m), {
    message: "the rendition's name does not match its method and threshold",
  });
export type InputMessage = z.infer<typeof inputMessageSchema>;

/**
 * Version 3: one page of a document (from 1). The API sends one a page; the job that stores
 * the last page assembles the document (worker/document-jobs.ts).
 */
export const pageMessageSchema = z
  .object({
    version: z.literal(3),
    id: imageIdSchema,
    bucket: z.string().min(1),
    key: z.string().min(1),
    method: z.enum(BINARIZATION_METHODS),
    threshold: z.number().int().min(0).max(255).optional(),
    format: z.enum(OUTPUT_FORMATS),
    /** The document's page count, as the API found it. */
    pages: z.number().int().positive(),
    page: z.number().int().positive(),
    /** What a PDF page that is not a scan is rendered at; absent: 300. */
    dpi: z.number().int().min(72).max(1200).optional(),
    /** A rendition's page: which rendition, and when it was asked for (each request is its own run). */
    rendition: renditionNameSchema.optional(),
    requestedAt: timestamp.optional(),
    ...geometryFields,
  })
  .refine((m) => m.page <= m.pages, { message: "the page is beyond the document's last" })
  .refine((m) => (m.rendition === undefined) === (m.requestedAt === undefined), {
    message: "a rendition's page names both the rendition and when it was requested",
  })
  .refine((m) => m.rendition === undefined || namesItsMethod(m.rendition, m), {
    message: "the rendition's name does not match its method and threshold",
  });
export type PageMessage = z.infer<typeof pageMessageSchema>;

/** Whatever the input queue carries: an image's job or a document's page. */
export const queueMessageSchema = z.union([inputMessageSchema, pageMessageSchema]);
export type QueueMessage = z.infer<typeof queueMessageSchema>;
/** What deskew found and did: the page's skew (clockwise degrees; null: none found) and the turn applied. */
export const skewReportSchema = z.object({
  angle: z.number().min(-90).max(90).nullable(),
  confidence: z.number().min(0).max(1),
  /** Degrees the page was turned, clockwise; 0 when it was not (not sure, or under 0.1°). */
  rotated: z.number().min(-90).max(90),
  /** Why no angle was found. */
  reason: z.string().optional(),
});
export type SkewReport = z.infer<typeof skewReportSchema>;

/** The frame found (pixels on each side, 0: none) and what was done with it. */
export const bordersReportSchema = z.object({
  top: z.number().int().nonnegative(),
  right: z.number().int().nonnegative(),
  bottom: z.number().int().nonnegative(),
  left: z.number().int().nonnegative(),
  action: z.enum(["clean", "crop"]),
});
export type BordersReport = z.infer<typeof bordersReportSchema>;

const doneMessageSchema = z.object({
  /** 2 for a rendition's completion. */
  version: z.union([z.literal(1), z.literal(2)]),
  id: imageIdSchema,
  status: z.literal("done"),
  input: objectRef,
  output: objectRef,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  method: z.enum(BINARIZATION_METHODS),
  /** The method that made the pixels (what `auto` chose); absent in messages from before auto. */
  appliedMethod: z.enum(APPLIED_METHODS).optional(),
  /** Why `auto` chose it, in a few words (`uneven background`); absent for other methods. */
  reason: z.string().optional(),
  /** null for the local methods (document, sauvola), whose threshold differs per pixel. */
  threshold: z.number().min(0).max(255).nullable(),
  rendition: renditionNameSchema.optional(),
  durationMs: z.number().nonnegative(),
  completedAt: timestamp,
  /** Milliseconds per stage (queue: from upload to the job's start; get, binarize, put). */
  stages: z.record(z.string(), z.number().nonnegative()).optional(),
  /**
   * One per time the image was actually processed: a republished result carries the id it was
   * made under, so two different ids for one image mean it was processed twice. (Optional
   * only so that messages from before it existed still parse.)
   */
  processingId: z.uuid().optional(),
  /** When deskew was asked for: what it found and did. */
  skew: skewReportSchema.optional(),
  /** When borders were to be cleaned or cropped: the frame found. */
  borders: bordersReportSchema.optional(),
});

/** A document assembled: version 3. Each page's details are in its own record (`/pages`). */
const documentDoneMessageSchema = z.object({
  version: z.literal(3),
  id: imageIdSchema,
  status: z.literal("done"),
  input: objectRef,
  output: objectRef,
  pages: z.number().int().positive(),
  format: z.enum(OUTPUT_FORMATS),
  method: z.enum(BINARIZATION_METHODS),
  rendition: renditionNameSchema.optional(),
  /** The output's size, and the input's: an output larger than its input is said so. */
  bytes: z.number().int().nonnegative(),
  inputBytes: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  completedAt: timestamp,
  processingId: z.uuid(),
  /** How many pages were turned level, and on how many a frame was found (each page's own in `/pages`). */
  pagesDeskewed: z.number().int().nonnegative().optional(),
  pagesFramed: z.number().int().nonnegative().optional(),
});

const failedMessageSchema = z.object({
  version: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  id: imageIdSchema,
  status: z.literal("failed"),
  input: objectRef,
  rendition: renditionNameSchema.optional(),
  /** A document's: the first page that failed, from 1. */
  page: z.number().int().positive().optional(),
  error: z.object({ code: z.string().min(1), message: z.string() }),
  completedAt: timestamp,
  processingId: z.uuid().optional(),
});

export const completionMessageSchema = z.union([doneMessageSchema, documentDoneMessageSchema, failedMessageSchema]);
export type CompletionMessage = z.infer<typeof completionMessageSchema>;

/** Parses a queue message body; throws a ZodError (or SyntaxError) describing what is wrong. */
export function parseMessage<T extends z.ZodType>(schema: T, body: string | undefined): z.infer<T> {
  return schema.parse(JSON.parse(body ?? ""));
}

/**
 * One message group per image: an image that is slow or poison blocks only itself, never
 * the images behind it. Deduplicating on the id makes a retried send within SQS's
 * five-minute window a no-op instead of a second job; a rendition's request is deduplicated
 * on the id, the rendition and the time it was asked for.
 */
export async function sendInputMessage(sqs: SQSClient, queueUrl: string, message: InputMessage): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(inputMessageSchema.parse(message)),
      MessageGroupId: message.id,
      MessageDeduplicationId: message.rendition
        ? `${message.id}:${message.rendition}:${Date.parse(message.requestedAt ?? "")}`
        : message.id,
    }),
  );
}

/**
 * A document's page jobs, ten to a call. Each page is a message group of its own, so that every
 * worker takes pages of one document at once; each is deduplicated by what it is
 * (`<id>:page:7`; a rendition's, `<id>:<rendition>:<requested>:page:7`), so a batch retried
 * within SQS's five minutes sends no page twice.
 */
export async function sendPageMessages(sqs: SQSClient, queueUrl: string, messages: PageMessage[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    const entries = messages.slice(start, start + 10).map((message, n) => {
      // A rendition's request is a run of its own: asked again after a failure, its pages are sent again.
      const run = message.rendition ? `:${message.rendition}:${Date.parse(message.requestedAt ?? "")}` : "";
      return {
        Id: String(n),
        MessageBody: JSON.stringify(pageMessageSchema.parse(message)),
        MessageGroupId: `${message.id}${run}:${message.page}`,
        MessageDeduplicationId: `${message.id}${run}:page:${message.page}`,
      };
    });
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    if (sent.Failed?.length) {
      const first = sent.Failed[0];
      throw new Error(
        `${sent.Failed.length} of ${entries.length} page messages not sent: ${first.Code} ${first.Message ?? ""}`,
      );
    }
  }
}

/**
 * Completions are deduplicated per processing, not per image: were an image ever processed
 * twice, both completions would arrive and show it. A result republished for a redelivered
 * message (`republishedOnReceive`) is sent under a dedup id of its own, so that it arrives
 * even within the five-minute window; it carries the processingId of the result it repeats.
 */
export async function sendCompletionMessage(
  sqs: SQSClient,
  queueUrl: string,
  message: CompletionMessage,
  { republishedOnReceive }: { republishedOnReceive?: number } = {},
): Promise<void> {
  const processing = message.processingId ?? "unknown";
  const dedup = `${message.id}:${processing}${republishedOnReceive ? `:r${republishedOnReceive}` : ""}`;
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(completionMessageSchema.parse(message)),
      MessageGroupId: message.id,
      MessageDeduplicationId: dedup,
    }),
  );
}

/**
 * Moves a received message, body unchanged, to another FIFO queue (the DLQ, or back from it).
 * It keeps its group; the dedup id is its SQS message id, so a repeated move within five
 * minutes is a no-op, while the image id, already used by the original send, is not reused.
 * Needs the MessageGroupId system attribute on the received message.
 */
export async function moveToQueue(sqs: SQSClient, queueUrl: string, message: Message): Promise<void> {
  const group = message.Attributes?.MessageGroupId;
  if (!group) throw new Error(`message ${message.MessageId} was received without its MessageGroupId attribute`);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: message.Body ?? "",
      MessageGroupId: group,
      MessageDeduplicationId: message.MessageId,
    }),
  );
}
