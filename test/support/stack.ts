// A running stack for tests that talk to the pipeline over HTTP: the API on a free port and a
// worker, both on the test LocalStack with resources of their own.
import { createApp } from "../../api/app.ts";
import { serveApp } from "../../api/serve.ts";
import { createS3Client } from "../../infra/aws-clients.ts";
import { createWorker } from "../../worker/consumer.ts";
import { createTestEnvironment } from "./environment.ts";

export async function startStack(extraEnv: Record<string, string> = {}) {
  const env = await createTestEnvironment(extraEnv);
  // The API's download client, so that tests can read its pool too.
  const downloads = createS3Client(env.config);
  const server = await serveApp(createApp({ ...env, downloads }), { host: "127.0.0.1", port: 0 });
  const worker = createWorker(env);
  worker.start();
  return {
    env,
    downloads,
    url: server.url,
    async stop() {
      await worker.stop();
      await server.close();
    },
  };
}
export type Stack = Awaited<ReturnType<typeof startStack>>;
