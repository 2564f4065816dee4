// `npm run upload -- <dir|files…> [--concurrency N] [--method auto|document|otsu|sauvola|fixed]
//   [--threshold T] [--format png|tiff|pdf] [--dpi 72-1200] [--deskew auto|off] [--borders keep|clean|crop]
//   [--wait] [--out DIR] [--url BASE_URL] [--manifest FILE]`
// Uploads many images and documents (PDF, TIFF) through the API with a progress bar; exits 1 if any failed.
// `npm run upload -- --delete [--url BASE_URL] [--manifest FILE]` deletes what it uploaded.
import { parseArgs } from "node:util";
import { BINARIZATION_METHODS, BORDER_MODES, DESKEW_MODES } from "../imaging/method-names.ts";
import { loadConfig } from "../infra/config.ts";
import { runMain } from "../infra/lifecycle.ts";
import { OUTPUT_FORMATS } from "../infra/messages.ts";
import { bulkDelete, bulkUpload, type FileOutcome } from "./bulk-upload.ts";

const USAGE = `usage: npm run upload -- <dir|files…> [--concurrency N] [--method ${BINARIZATION_METHODS.join("|")}]
       [--threshold 0-255] [--format ${OUTPUT_FORMATS.join("|")}] [--dpi 72-1200] [--deskew ${DESKEW_MODES.join("|")}]
       [--borders ${BORDER_MODES.join("|")}] [--wait] [--out DIR] [--url BASE_URL] [--manifest FILE]
       npm run upload -- --delete [--url BASE_URL] [--manifest FILE]   (deletes what the manifest says was uploaded)`;

runMain(async () => {
  const config = loadConfig();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      concurrency: { type: "string", default: "8" },
      method: { type: "string" },
      threshold: { type: "string" },
      format: { type: "string" },
      dpi: { type: "string" },
      deskew: { type: "string" },
      borders: { type: "string" },
      wait: { type: "boolean", default: false },
      out: { type: "string" },
      url: { type: "string", default: `http://${config.host}:${config.port}` },
      manifest: { type: "string", default: ".bitonal-uploads.json" },
      delete: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const baseUrl = (values.url as string).replace(/\/$/, "");
  if (values.delete && !values.help) {
    const { deleted, failed } = await bulkDelete({
      baseUrl,
      token: config.apiToken,
      concurrency: Number(values.concurrency) || 8,
      manifestPath: values.manifest as string,
    });
    console.log(`Deleted ${deleted.length} images from ${baseUrl}; ${failed.length} could not be deleted.`);
    for (const { file, reason } of failed) console.log(`  not deleted: ${file}: ${reason}`);
    if (failed.length > 0) process.exit(1);
    return;
  }
  const concurrency = Number(values.concurrency);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  const dpi = values.dpi === undefined ? undefined : Number(values.dpi);
  const problems = [
    positionals.length === 0 && "give at least one folder or file (or --delete)",
    !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256) && "--concurrency must be 1–256",
    values.method && !(BINARIZATION_METHODS as readonly string[]).includes(values.method) && "unknown --method",
    threshold !== undefined &&
      !(Number.isInteger(threshold) && threshold >= 0 && threshold <= 255) &&
      "--threshold must be 0–255",
    values.format && !(OUTPUT_FORMATS as readonly string[]).includes(values.format) && "unknown --format",
    dpi !== undefined && !(Number.isInteger(dpi) && dpi >= 72 && dpi <= 1200) && "--dpi must be 72–1200",
    values.deskew && !(DESKEW_MODES as readonly string[]).includes(values.deskew) && "unknown --deskew",
    values.borders && !(BORDER_MODES as readonly string[]).includes(values.borders) && "unknown --borders",
    values.out && !values.wait && "--out needs --wait",
  ].filter(Boolean);
  if (values.help || problems.length > 0) {
    for (const problem of problems) console.error(`upload: ${problem}`);
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }

  const started = performance.now();
  const outcomes = await bulkUpload(
    {
      paths: positionals,
      baseUrl,
      token: config.apiToken,
      concurrency,
      method: values.method,
      threshold,
      format: values.format,
      dpi,
      deskew: values.deskew,
      borders: values.borders,
      wait: values.wait as boolean,
      outDir: values.out,
      manifestPath: values.manifest as string,
      waitTimeoutMs: 10 * 60_000,
    },
    progressBar(started),
  );
  if (outcomes.length > 0 && outcomes.every((o) => o.reason?.startsWith("cannot reach"))) {
    // Not a refusal per file: nothing answered at all.
    console.error(
      `The API at ${baseUrl} cannot be reached; start it (\`npm start\`, or \`npm run api\`) or pass --url.`,
    );
    process.exit(1);
  }
  printSummary(outcomes, (performance.now() - started) / 1000);
  if (outcomes.some((o) => o.upload === "refused" || o.result === "failed")) process.exit(1);
});

/**
 * One line redrawn in place on a terminal (a line per tenth otherwise): count, bar, rate, ETA.
 * Hand-written: it is a dozen lines, less than a progress-bar library's configuration.
 */
function progressBar(started: number) {
  const tty = process.stderr.isTTY;
  let lastTenth = -1;
  return (stage: "upload" | "wait", done: number, total: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const eta = rate > 0 ? (total - done) / rate : 0;
    const width = 24;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    const line = `${stage === "upload" ? "uploading " : "processing"} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}  ${rate.toFixed(1)}/s  ETA ${eta.toFixed(0)} s`;
    const tenth = Math.floor((done / Math.max(total, 1)) * 10);
    if (tty) process.stderr.write(`\r${line}${done === total ? "\n" : ""}`);
    else if (tenth !== lastTenth || done === total) {
      lastTenth = tenth;
      process.stderr.write(`${line}\n`);
    }
  };
}

function printSummary(outcomes: FileOutcome[], seconds: number) {
  const count = (test: (o: FileOutcome) => boolean) => outcomes.filter(test).length;
  const parts = [
    `${count((o) => o.upload === "new")} uploaded`,
    `${count((o) => o.upload === "known")} skipped (uploaded before)`,
    `${count((o) => o.upload === "refused")} refused`,
  ];
  if (outcomes.some((o) => o.result)) {
    parts.push(`${count((o) => o.result === "done")} done`, `${count((o) => o.result === "failed")} failed`);
  }
  console.log(`${outcomes.length} files in ${seconds.toFixed(1)} s: ${parts.join(", ")}`);
  for (const outcome of outcomes) {
    if (outcome.upload === "refused") console.log(`  refused: ${outcome.file}: ${outcome.reason}`);
    else if (outcome.result === "failed") console.log(`  failed:  ${outcome.file}: ${outcome.reason}`);
    else if (outcome.geometry) console.log(`  done:    ${outcome.file}: ${outcome.geometry}`);
  }
}
