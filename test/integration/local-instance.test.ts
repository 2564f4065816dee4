// A token-less instance answers only its own pages, over real HTTP: a Host allow-list against
// DNS rebinding, and writes from another site's pages refused.
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { listKeys } from "../../infra/inspect.ts";
import { makePng } from "../support/images.ts";
import { startPipeline, usePipeline } from "../support/pipeline.ts";

const pipeline = usePipeline({ settings: { PUBLIC_HOSTS: "bitonal.lan" }, serve: true, worker: false });

/** A request with any headers, Host included (fetch may not set it). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
  base = pipeline.url,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode as number, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function multipart() {
  const png = Buffer.from(await makePng(20, 20, (x) => [x * 10]));
  const body = Buffer.concat([
    Buffer.from('--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'),
    png,
    Buffer.from("\r\n--B--\r\n"),
  ]);
  return {
    body,
    headers: { "Content-Type": "multipart/form-data; boundary=B", "Content-Length": String(body.length) },
  };
}

describe("without a token, only loopback names and PUBLIC_HOSTS are answered", () => {
  const own = () => new URL(pipeline.url).host;

  it.each(["/", "/api/images", "/healthz"])("a rebinding Host is a 403 problem on %s", async (path) => {
    const answer = await send("GET", path, { Host: "rebind.attacker.example" });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ type: "/problems/forbidden" });
    expect(JSON.parse(answer.body).detail).toMatch(/PUBLIC_HOSTS/);
  });

  it.each([
    ["its own address", () => own()],
    ["localhost", () => `localhost:${new URL(pipeline.url).port}`],
    ["a public host", () => "bitonal.lan:8443"],
  ])("%s is served", async (_, host) => {
    expect((await send("GET", "/api/images", { Host: host() })).status).toBe(200);
  });
});

describe("writes from another site's page are refused", () => {
  const own = () => pipeline.url;

  it.each([
    ["/api/images", { Origin: "https://evil.example" }],
    ["/upload", { Origin: "https://evil.example" }],
    ["/api/images", { Origin: "null" }],
    ["/api/images", { "Sec-Fetch-Site": "cross-site" }],
  ])("POST %s with %j is a 403 and stores nothing", async (path, extra) => {
    const before = await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket);
    const { body, headers } = await multipart();
    const answer = await send("POST", path, { ...headers, ...extra }, body);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ type: "/problems/forbidden" });
    expect(await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket)).toEqual(before);
  });

  it("the page's own origin, and clients that send none (curl, the CLI), may upload and delete", async () => {
    const { body, headers } = await multipart();
    const fromPage = await send("POST", "/api/images", { ...headers, Origin: own() }, body);
    expect(fromPage.status).toBe(202);
    const fromCurl = await send("POST", "/api/images", headers, body);
    expect(fromCurl.status).toBe(202);
    const { id } = JSON.parse(fromCurl.body);
    expect((await send("DELETE", `/api/images/${id}`, { Origin: "https://evil.example" })).status).toBe(403);
    expect((await send("DELETE", `/api/images/${id}`, { Origin: own() })).status).toBe(204);
  });

  it("with a token the Host is not checked (the token is the gate), and foreign writes are still refused", async () => {
    const token = "local-instance-token-0123456789abcdef";
    const tokenServer = await startPipeline({ settings: { API_TOKEN: token }, serve: true, worker: false });
    const auth = { Authorization: `Bearer ${token}` };
    const listed = await send(
      "GET",
      "/api/images",
      { Host: "bitonal.example.com", ...auth },
      undefined,
      tokenServer.url,
    );
    expect(listed.status).toBe(200);
    const { body, headers } = await multipart();
    const foreign = await send(
      "POST",
      "/api/images",
      { ...headers, ...auth, Origin: "https://evil.example" },
      body,
      tokenServer.url,
    );
    expect(foreign.status).toBe(403);
  });
});
