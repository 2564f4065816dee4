// A TCP proxy the tests control, between the services and LocalStack: cut() drops every
// connection and refuses new ones, as a network partition would; restore() lets them through.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  url: string;
  /** Connections attempted while cut (a measure of how hard clients retry). */
  refusedWhileCut: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: URL): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const proxy: TcpProxy = {
    url: "",
    refusedWhileCut: 0,
    cut() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      isCut = false;
      proxy.refusedWhileCut = 0;
    },
    close: () =>
      new Promise((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((client) => {
    if (isCut) {
      proxy.refusedWhileCut++;
      client.destroy();
      return;
    }
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return proxy;
}
