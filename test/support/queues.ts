// Reading what the pipeline published, straight from the real queues.
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type CompletionMessage, completionMessageSchema, parseMessage } from "../../infra/messages.ts";

/** Waits for the completion message of every id given; other messages are left alone. */
export async function waitForCompletions(
  sqs: SQSClient,
  queueUrl: string,
  ids: string[],
  timeoutMs = 30_000,
): Promise<Map<string, CompletionMessage>> {
  const found = new Map<string, CompletionMessage>();
  const deadline = Date.now() + timeoutMs;
  while (found.size < ids.length && Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      const completion = parseMessage(completionMessageSchema, message.Body);
      if (!ids.includes(completion.id)) continue;
      found.set(completion.id, completion);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) throw new Error(`no completion message within ${timeoutMs} ms for ${missing.join(", ")}`);
  return found;
}
