// Copyright 2026 the Reaper authors. MIT license.
/**
 * What the public APIs cost per request: building the handler's `Request`
 * and reading the `Response` it returns. These are the costs that no server
 * on `Deno.listen` can avoid with public APIs only (raw `Deno.serve` builds
 * its requests and reads its responses through the runtime's internals), and
 * together they bound the portable engine's speed; see
 * `bench/servers/floor_listen.ts` for the same costs under load.
 *
 * Usage: `npx -y deno@2.9.6 bench bench/public_api_bench.ts`
 *
 * @module
 */

const URL_STRING = "http://127.0.0.1:8000/";
const FIELDS = [
  ["host", "127.0.0.1:8000"],
  ["user-agent", "wrk"],
  ["accept", "*/*"],
] as const;
const template = new Request(URL_STRING);
const GET_INIT: RequestInit = { method: "GET", signal: null };

function appendFields(request: Request): Request {
  const headers = request.headers;
  for (const [name, value] of FIELDS) headers.append(name, value);
  return request;
}

Deno.bench({
  name: "new Request(url), then append()",
  group: "request",
  baseline: true,
  fn: () => {
    appendFields(new Request(URL_STRING));
  },
});

Deno.bench({
  name: "new Request(url, { headers })",
  group: "request",
  fn: () => {
    new Request(URL_STRING, { headers: FIELDS.map(([n, v]) => [n, v]) });
  },
});

Deno.bench({
  name: "new Request(template, init), then append()",
  group: "request",
  fn: () => {
    appendFields(new Request(template, GET_INIT));
  },
});

const hello = (): Response => new Response("Hello, World!");
const keep = (_value: unknown): void => {};

Deno.bench({
  name: "new Response(string) only",
  group: "response body",
  fn: () => {
    keep(hello());
  },
});

Deno.bench({
  name: "body: getReader(), read() until done",
  group: "response body",
  baseline: true,
  fn: async () => {
    const reader = hello().body!.getReader();
    let result = await reader.read();
    while (!result.done) result = await reader.read();
  },
});

Deno.bench({
  name: "await bytes() (buffers a stream whole)",
  group: "response body",
  fn: async () => {
    keep(await hello().bytes());
  },
});

let head = "";
const addField = (value: string, name: string): void => {
  head += name + ": " + value + "\r\n";
};

Deno.bench({
  name: "headers.forEach()",
  group: "response head",
  baseline: true,
  fn: () => {
    head = "";
    hello().headers.forEach(addField);
  },
});

Deno.bench({
  name: "for…of headers",
  group: "response head",
  fn: () => {
    head = "";
    for (const [name, value] of hello().headers) addField(value, name);
  },
});
