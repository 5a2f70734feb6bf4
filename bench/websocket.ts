#!/usr/bin/env -S deno run --allow-all
// Copyright 2026 the Reaper authors. MIT license.
/**
 * WebSocket echo throughput and memory per open socket, for raw
 * `Deno.serve` + `Deno.upgradeWebSocket`, Reaper's native engine, Reaper's
 * portable engine (its own RFC 6455), and npm `ws` driven over a
 * `stream.Duplex` on a `Deno.Conn` (the option the portable engine did not
 * take, measured for the choice).
 *
 * Each server runs in a child process (this script with `--serve KIND`).
 * The parent is the client (Deno's `WebSocket`):
 *
 * - messages/s: `--sockets` sockets (50) each do `--messages` (400)
 *   sequential echo round trips of a 32-byte text message, all sockets at
 *   once; the best of `--rounds` (3) rounds;
 * - memory: `VmRSS` of the server before and after `--idle` (1000) sockets
 *   are opened and left idle (after one echo each), settled 1.5 s; printed
 *   as KiB per socket.
 *
 * Usage (`--allow-all`: it spawns itself and reads `/proc/<pid>/status`):
 * `deno run --allow-all bench/websocket.ts [--sockets 50] [--messages 400] [--idle 1000] [--only REGEX]`
 *
 * @module
 */

const KINDS = ["raw", "native", "portable", "ws-duplex"] as const;
type Kind = typeof KINDS[number];

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Deno.args[i + 1];
}

// ------------------------------------------------------------------ servers

async function serveKind(kind: Kind): Promise<void> {
  const ready = (port: number) => console.log(`PORT ${port}`);
  if (kind === "raw") {
    Deno.serve({
      port: 0,
      hostname: "127.0.0.1",
      onListen: (a) => ready(a.port),
    }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    });
    return;
  }
  if (kind === "native" || kind === "portable") {
    const { serve, upgradeWebSocket } = await import("../mod.ts");
    serve({
      port: 0,
      hostname: "127.0.0.1",
      engine: kind,
      onListen: (a) => ready(a.port),
    }, (req) => {
      const { socket, response } = upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    });
    return;
  }
  // npm ws over a Duplex written over a Deno.Conn.
  const { WebSocketServer } = await import("npm:ws@8.23.0");
  const { Duplex } = await import("node:stream");
  const { Buffer } = await import("node:buffer");
  const wss = new WebSocketServer({ noServer: true });
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  ready((listener.addr as Deno.NetAddr).port);
  for await (const conn of listener) {
    (async () => {
      conn.setNoDelay(true);
      let buf = new Uint8Array(4096);
      let n = 0;
      let end = -1;
      while (end < 0) {
        const r = await conn.read(buf.subarray(n));
        if (r === null) return conn.close();
        n += r;
        end = new TextDecoder().decode(buf.subarray(0, n)).indexOf("\r\n\r\n");
      }
      const lines = new TextDecoder().decode(buf.subarray(0, end)).split(
        "\r\n",
      );
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      const head = Buffer.from(buf.slice(end + 4, n));
      buf = new Uint8Array(16384);
      let reading = false;
      const socket: InstanceType<typeof Duplex> = new Duplex({
        read() {
          if (reading) return;
          reading = true;
          conn.read(buf).then((r) => {
            reading = false;
            if (r === null) socket.push(null);
            else if (socket.push(Buffer.from(buf.slice(0, r)))) socket.read(0);
          }, (e) => socket.destroy(e));
        },
        write(chunk: Uint8Array, _enc: string, cb: (e?: Error) => void) {
          (async () => {
            let off = 0;
            while (off < chunk.length) {
              off += await conn.write(chunk.subarray(off));
            }
          })().then(() => cb(), cb);
        },
        destroy(error: Error | null, cb: (e: Error | null) => void) {
          try {
            conn.close();
          } catch {
            // Closed.
          }
          cb(error);
        },
      });
      Object.assign(socket, {
        setNoDelay() {},
        setTimeout() {},
        setKeepAlive() {},
      });
      const req = { method: "GET", headers, url: lines[0].split(" ")[1] };
      // deno-lint-ignore no-explicit-any
      wss.handleUpgrade(req as any, socket as any, head, (ws: any) => {
        ws.on(
          "message",
          (data: Uint8Array, binary: boolean) => ws.send(data, { binary }),
        );
      });
    })();
  }
}

// ------------------------------------------------------------------ client

interface Child {
  port: number;
  pid: number;
  process: Deno.ChildProcess;
}

async function startChild(kind: Kind): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      "--serve",
      kind,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!/PORT (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} server did not start`);
    text += value;
  }
  reader.releaseLock();
  process.stdout.cancel().catch(() => {});
  return {
    port: Number(text.match(/PORT (\d+)/)![1]),
    pid: process.pid,
    process,
  };
}

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]);
}

function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("open failed"));
  });
}

function echo(ws: WebSocket, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.onmessage = () => resolve();
    ws.onclose = () => reject(new Error("closed"));
    ws.send(data);
  });
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) =>
    new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.onclose = () => resolve();
      ws.onerror = () => {};
      ws.close();
    })
  ));
}

async function throughput(
  port: number,
  sockets: number,
  messages: number,
): Promise<number> {
  const list = await Promise.all(
    Array.from({ length: sockets }, () => open(port)),
  );
  const payload = "x".repeat(32);
  const t0 = performance.now();
  await Promise.all(list.map(async (ws) => {
    for (let i = 0; i < messages; i++) await echo(ws, payload);
  }));
  const seconds = (performance.now() - t0) / 1000;
  await closeAll(list);
  return (sockets * messages) / seconds;
}

async function memory(child: Child, count: number): Promise<number> {
  // Warm up: the code paths and the first sockets' allocations.
  await throughput(child.port, 20, 20);
  await new Promise((r) => setTimeout(r, 1000));
  const before = await rssKiB(child.pid);
  const list: WebSocket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, () => open(child.port)),
    );
    await Promise.all(batch.map((ws) => echo(ws, "hi")));
    list.push(...batch);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after = await rssKiB(child.pid);
  await closeAll(list);
  return (after - before) / count;
}

async function main(): Promise<void> {
  const serveAs = flag("serve", "");
  if (serveAs !== "") return serveKind(serveAs as Kind);
  const sockets = Number(flag("sockets", "50"));
  const messages = Number(flag("messages", "400"));
  const idle = Number(flag("idle", "1000"));
  const rounds = Number(flag("rounds", "3"));
  const only = new RegExp(flag("only", "."));
  console.log(
    `Echo of 32-byte text, ${sockets} sockets × ${messages} round trips (best of ${rounds}); memory over ${idle} idle sockets`,
  );
  console.log("| server | messages/s | KiB per idle socket |");
  console.log("| ------ | ---------: | ------------------: |");
  for (const kind of KINDS) {
    if (!only.test(kind)) continue;
    const child = await startChild(kind);
    try {
      let best = 0;
      for (let i = 0; i < rounds; i++) {
        best = Math.max(best, await throughput(child.port, sockets, messages));
      }
      const perSocket = await memory(child, idle);
      console.log(
        `| ${kind} | ${Math.round(best)} | ${perSocket.toFixed(1)} |`,
      );
    } finally {
      child.process.kill("SIGKILL");
      await child.process.status;
    }
  }
}

if (import.meta.main) await main();
