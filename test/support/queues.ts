// Reading what the pipeline published, straight from the real queues.
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type CompletionMessage, completionMessageSchema, parseMessage } from "../../infra/messages.ts";

/**
 * Waits for a completion message of every id given (the last one received, if several);
 * other messages are left alone.
 */
export async function waitForCompletions(
  sqs: SQSClient,
  queueUrl: string,
  ids: string[],
  timeoutMs = 30_000,
): Promise<Map<string, CompletionMessage>> {
  const all = await collectCompletions(sqs, queueUrl, ids, { timeoutMs, settleMs: 0 });
  return new Map([...all].map(([id, messages]) => [id, messages[messages.length - 1]]));
}

/**
 * Every completion message for the ids given, kept per id, until each has one and then
 * `settleMs` more: a second processing of an image would publish a second completion with
 * another processingId (completions are deduplicated per processing, not per image).
 */
export async function collectCompletions(
  sqs: SQSClient,
  queueUrl: string,
  ids: string[],
  { timeoutMs = 30_000, settleMs = 2_000 } = {},
): Promise<Map<string, CompletionMessage[]>> {
  const found = new Map<string, CompletionMessage[]>();
  const deadline = Date.now() + timeoutMs;
  let settleUntil = Number.POSITIVE_INFINITY;
  while (Date.now() < Math.min(deadline, settleUntil)) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      const completion = parseMessage(completionMessageSchema, message.Body);
      if (!ids.includes(completion.id)) continue;
      found.set(completion.id, [...(found.get(completion.id) ?? []), completion]);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
    if (settleUntil === Number.POSITIVE_INFINITY && found.size === ids.length) settleUntil = Date.now() + settleMs;
  }
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw new Error(`no completion message within ${timeoutMs} ms for ${missing.join(", ")}`);
  return found;
}

/** Ids whose completions name more than one processing: images that were processed twice. */
export function processedMoreThanOnce(completions: Map<string, CompletionMessage[]>): string[] {
  return [...completions.entries()]
    .filter(([, messages]) => new Set(messages.map((m) => m.processingId)).size > 1)
    .map(([id]) => id);
}
