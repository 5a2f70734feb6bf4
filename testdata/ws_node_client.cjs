// Copyright 2026 the Reaper authors. MIT license.
// The npm `ws` client under Node, for websocket_test.ts: sends a text
// message, a fragmented one with a ping between its fragments and a 64 KiB
// binary one, expects each echoed, then closes with 4002 and prints what it
// saw as JSON. Usage: node ws_node_client.cjs ws://host:port/
"use strict";
const WebSocket = require("ws");

const ws = new WebSocket(process.argv[2]);
const seen = { messages: [], pongs: [], close: null };
ws.on("open", () => {
  ws.send("hello");
  ws.send("frag", { fin: false });
  ws.ping("p");
  ws.send("mented", { fin: true });
  ws.send(Buffer.alloc(65536), { binary: true });
});
ws.on("message", (data, binary) => {
  seen.messages.push(binary ? `binary:${data.length}` : String(data));
  if (seen.messages.length === 3) ws.close(4002, "node");
});
ws.on("pong", (data) => seen.pongs.push(String(data)));
ws.on("close", (code, reason) => {
  seen.close = [code, String(reason)];
  console.log(JSON.stringify(seen));
});
ws.on("error", (error) => {
  console.error(error);
  process.exitCode = 1;
});
