// Container health check: `node scripts/healthcheck.ts [api|worker]` exits 0 when that
// process answers GET /healthz on its port (PORT, or WORKER_METRICS_PORT for the worker).
import { loadConfig } from "../infra/config.ts";

const config = loadConfig();
const port = process.argv[2] === "worker" ? config.workerMetricsPort : config.port;
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
