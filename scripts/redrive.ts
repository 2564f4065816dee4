// `npm run redrive`: moves every message in the dead-letter queue back to the input queue,
// after the cause of their failures has been fixed.
//
// By hand rather than SQS's StartMessageMoveTask, which LocalStack's community edition and
// other emulators do not all implement; receive → send → delete works on any SQS.
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { runMain } from "../infra/lifecycle.ts";
import { moveToQueue } from "../infra/messages.ts";
import { resolveQueueUrls } from "../infra/resources.ts";

runMain(async () => {
  const config = loadConfig();
  const sqs = createSqsClient(config);
  const urls = await resolveQueueUrls(sqs, config);
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: urls.deadLetter,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ["MessageGroupId"],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      await moveToQueue(sqs, urls.input, message);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: urls.deadLetter, ReceiptHandle: message.ReceiptHandle }));
      moved++;
    }
  }
  console.log(
    `Moved ${moved} message${moved === 1 ? "" : "s"} from ${config.deadLetterQueue} to ${config.inputQueue}.`,
  );
});
