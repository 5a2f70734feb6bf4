// Copyright 2026 the Reaper authors. MIT license.
import {
  assert,
  assertEquals,
  assertFalse,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { fileURLToPath } from "node:url";
import {
  DEMO_ROOT,
  mimeType,
  serveDir,
  type ServeDirOptions,
} from "./file_server.ts";

const ROOT_URL = new URL("./testdata/files/", import.meta.url);
const ROOT = fileURLToPath(ROOT_URL);

function request(path: string, init?: RequestInit): Request {
  return new Request(`http://localhost${path}`, init);
}

function serve(
  path: string,
  init?: RequestInit,
  options: Partial<ServeDirOptions> = {},
): Promise<Response> {
  return serveDir(request(path, init), { root: ROOT, ...options });
}

async function fixture(name: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(name, ROOT_URL));
}

/** Asserts the status and returns the body as text (consuming it). */
async function expectText(res: Response, status: number): Promise<string> {
  const text = await res.text();
  assertEquals(res.status, status, text);
  return text;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "reaper_file_server_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serveDir() serves a file with its length, type and validators", async () => {
  const res = await serve("/digits.txt");
  assertEquals(await expectText(res, 200), "0123456789");
  assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  assertEquals(res.headers.get("content-length"), "10");
  assertEquals(res.headers.get("accept-ranges"), "bytes");
  const info = await Deno.stat(new URL("digits.txt", ROOT_URL));
  assertEquals(res.headers.get("last-modified"), info.mtime!.toUTCString());
  // std's eTag() of the file info: weak, the size in hex, a hash of mtime.
  assertMatch(res.headers.get("etag")!, /^W\/"a-[A-Za-z0-9+/]{27}"$/);
});

Deno.test("serveDir() gives a file a new ETag when its mtime changes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.txt`, "same size");
    const etagAt = async (seconds: number): Promise<string | null> => {
      await Deno.utime(`${dir}/a.txt`, seconds, seconds);
      const res = await serveDir(request("/a.txt", { method: "HEAD" }), {
        root: dir,
      });
      return res.headers.get("etag");
    };
    const first = await etagAt(1_700_000_000);
    assertEquals(await etagAt(1_700_000_000), first);
    const second = await etagAt(1_700_000_001);
    assert(first !== null && second !== null);
    assert(first !== second, first);
  });
});

Deno.test("serveDir() answers / with the root index.html", async () => {
  const res = await serve("/");
  assertEquals(res.headers.get("content-type"), "text/html; charset=UTF-8");
  assertEquals(
    await expectText(res, 200),
    new TextDecoder().decode(await fixture("index.html")),
  );
});

Deno.test("serveDir() sends binary files byte for byte", async () => {
  for (const name of ["bytes.bin", "image.png"]) {
    const res = await serve(`/${name}`);
    assertEquals(res.status, 200);
    assertEquals(await res.bytes(), await fixture(name));
  }
});

Deno.test("serveDir() picks the Content-Type from the file extension", async () => {
  const expected: Record<string, string> = {
    "/": "text/html; charset=UTF-8",
    "/index.html": "text/html; charset=UTF-8",
    "/style.css": "text/css; charset=UTF-8",
    "/app.js": "text/javascript; charset=UTF-8",
    "/data.json": "application/json; charset=UTF-8",
    "/image.png": "image/png",
    "/logo.svg": "image/svg+xml",
    "/digits.txt": "text/plain; charset=UTF-8",
    "/bytes.bin": "application/octet-stream",
    "/notes.zzq": "application/octet-stream",
  };
  for (const [path, type] of Object.entries(expected)) {
    const res = await serve(path, { method: "HEAD" });
    assertEquals(res.status, 200, path);
    assertEquals(res.headers.get("content-type"), type, path);
  }
});

Deno.test("mimeType() maps extensions case-insensitively and knows no others", () => {
  assertEquals(mimeType("a/b/page.HTML"), "text/html; charset=UTF-8");
  assertEquals(mimeType("dir.d\\font.woff2"), "font/woff2");
  assertEquals(
    mimeType("x.webmanifest"),
    "application/manifest+json; charset=UTF-8",
  );
  assertEquals(mimeType("Makefile"), undefined);
  assertEquals(mimeType(".bashrc"), undefined);
  assertEquals(mimeType("dir.d/README"), undefined);
  assertEquals(mimeType("file.unknownext"), undefined);
});

Deno.test("serveDir() answers HEAD with the headers of GET and no body", async () => {
  for (const path of ["/", "/image.png", "/sub/page.txt"]) {
    const get = await serve(path);
    await get.body!.cancel();
    const head = await serve(path, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(head.body, null);
    assertEquals([...head.headers], [...get.headers], path);
  }
});

Deno.test("serveDir() refuses other methods with 405 and Allow", async () => {
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
    const res = await serve("/digits.txt", { method });
    assertEquals(await expectText(res, 405), "Method Not Allowed");
    assertEquals(res.headers.get("allow"), "GET, HEAD");
    assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  }
});

Deno.test("serveDir() redirects a directory URL to its trailing-slash form", async () => {
  const cases: Record<string, string> = {
    "/sub": "/sub/",
    "/sub?x=1&y": "/sub/?x=1&y",
    "//sub": "/sub/",
  };
  for (const [path, location] of Object.entries(cases)) {
    const res = await serve(path);
    await expectText(res, 301);
    assertEquals(res.headers.get("location"), location, path);
  }
});

Deno.test("serveDir() serves a nested directory's index.html", async () => {
  const res = await serve("/sub/");
  assertEquals(res.headers.get("content-type"), "text/html; charset=UTF-8");
  assertStringIncludes(await expectText(res, 200), "sub index");
});

Deno.test("serveDir() answers 404 for missing files and directories without index", async () => {
  for (
    const path of [
      "/missing.txt",
      "/sub/missing/",
      "/noindex/",
      "/digits.txt/",
      "/digits.txt/x",
      `/${"a".repeat(300)}`,
    ]
  ) {
    const res = await serve(path);
    assertEquals(await expectText(res, 404), "Not Found", path);
    assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  }
});

Deno.test("serveDir() uses the index option, and no index when it is empty", async () => {
  const page = await serve("/sub/", undefined, { index: "page.txt" });
  assertEquals(page.headers.get("content-type"), "text/plain; charset=UTF-8");
  assertEquals(await expectText(page, 200), "sub page\n");
  await expectText(await serve("/sub/", undefined, { index: "" }), 404);
});

Deno.test("serveDir() serves names with spaces and unicode", async () => {
  const res = await serve("/hello%20w%C3%B6rld.txt");
  assertEquals(await expectText(res, 200), "spaces and unicode\n");
});

Deno.test("serveDir() answers a single byte range with 206", async () => {
  const cases: [string, string, string][] = [
    ["bytes=0-3", "0123", "bytes 0-3/10"],
    ["bytes=4-4", "4", "bytes 4-4/10"],
    ["bytes=-3", "789", "bytes 7-9/10"],
    ["bytes=6-", "6789", "bytes 6-9/10"],
    ["bytes=8-100", "89", "bytes 8-9/10"],
    ["bytes=-20", "0123456789", "bytes 0-9/10"],
    [" bytes=0-0 ", "0", "bytes 0-0/10"],
  ];
  for (const [range, body, contentRange] of cases) {
    const res = await serve("/digits.txt", { headers: { range } });
    assertEquals(await expectText(res, 206), body, range);
    assertEquals(res.headers.get("content-range"), contentRange, range);
    assertEquals(res.headers.get("content-length"), String(body.length));
    assertEquals(res.headers.get("content-type"), "text/plain; charset=UTF-8");
  }
});

Deno.test("serveDir() answers an unsatisfiable range with 416", async () => {
  for (const range of ["bytes=10-", "bytes=10-20", "bytes=-0"]) {
    const res = await serve("/digits.txt", { headers: { range } });
    await expectText(res, 416);
    assertEquals(res.headers.get("content-range"), "bytes */10", range);
  }
  const empty = await serve("/empty.txt", { headers: { range: "bytes=0-" } });
  await expectText(empty, 416);
  assertEquals(empty.headers.get("content-range"), "bytes */0");
});

Deno.test("serveDir() ignores malformed ranges, range lists and ranges on HEAD", async () => {
  for (
    const range of [
      "bytes=5-2",
      "bytes=abc",
      "bytes=-",
      "items=0-1",
      "bytes=0-1,3-4",
    ]
  ) {
    const res = await serve("/digits.txt", { headers: { range } });
    assertEquals(await expectText(res, 200), "0123456789", range);
    assertEquals(res.headers.get("content-range"), null);
  }
  const head = await serve("/digits.txt", {
    method: "HEAD",
    headers: { range: "bytes=0-3" },
  });
  assertEquals(head.status, 200);
  assertEquals(head.headers.get("content-length"), "10");
});

Deno.test("serveDir() slices a binary file across chunks", async () => {
  await withTempDir(async (dir) => {
    const data = new Uint8Array(200_000).map((_, i) =>
      (i * 7 + (i >> 8)) & 255
    );
    await Deno.writeFile(`${dir}/big.bin`, data);
    const full = await serveDir(request("/big.bin"), { root: dir });
    assertEquals(full.headers.get("content-length"), "200000");
    assertEquals(await full.bytes(), data);
    const part = await serveDir(
      request("/big.bin", { headers: { range: "bytes=1000-150000" } }),
      { root: dir },
    );
    assertEquals(part.status, 206);
    assertEquals(part.headers.get("content-range"), "bytes 1000-150000/200000");
    assertEquals(await part.bytes(), data.subarray(1000, 150001));
  });
});

Deno.test("serveDir() closes the file when a body is cancelled", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(300_000));
    for (const range of [null, "bytes=10-290000"]) {
      const headers: Record<string, string> = range ? { range } : {};
      const res = await serveDir(request("/big.bin", { headers }), {
        root: dir,
      });
      const reader = res.body!.getReader();
      assertFalse((await reader.read()).done);
      await reader.cancel();
    }
    // Cancelled before the first read.
    const res = await serveDir(
      request("/big.bin", { headers: { range: "bytes=1-" } }),
      { root: dir },
    );
    await res.body!.cancel();
  });
  // The test sanitizers fail this test if a file handle is left open.
});

Deno.test("serveDir() answers 304 to a matching If-None-Match", async () => {
  const first = await serve("/style.css");
  await first.body!.cancel();
  const etag = first.headers.get("etag")!;
  assert(etag.startsWith("W/"), etag);
  // Weak comparison: the tag without its W/ matches too.
  const strong = etag.slice(2);
  for (
    const ifNoneMatch of [etag, strong, `"x", ${etag}`, `"x",${strong}`, "*"]
  ) {
    const res = await serve("/style.css", {
      headers: { "if-none-match": ifNoneMatch },
    });
    assertEquals(res.status, 304, ifNoneMatch);
    assertEquals(res.body, null);
    assertEquals(res.headers.get("etag"), etag);
    assertEquals(
      res.headers.get("last-modified"),
      first.headers.get("last-modified"),
    );
  }
  const other = await serve("/style.css", {
    headers: { "if-none-match": '"x"' },
  });
  await expectText(other, 200);
});

Deno.test("serveDir() answers 304 when unchanged since If-Modified-Since", async () => {
  const first = await serve("/style.css", { method: "HEAD" });
  const lastModified = first.headers.get("last-modified")!;
  const same = await serve("/style.css", {
    headers: { "if-modified-since": lastModified },
  });
  assertEquals(same.status, 304);
  assertEquals(same.body, null);
  const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
  const newer = await serve("/style.css", {
    headers: { "if-modified-since": later },
  });
  assertEquals(newer.status, 304);
  for (const since of ["Sat, 01 Jan 2000 00:00:00 GMT", "not a date"]) {
    const res = await serve("/style.css", {
      headers: { "if-modified-since": since },
    });
    await expectText(res, 200);
  }
});

Deno.test("serveDir() lets If-None-Match take precedence over If-Modified-Since", async () => {
  const first = await serve("/style.css", { method: "HEAD" });
  const res = await serve("/style.css", {
    headers: {
      "if-none-match": '"stale"',
      "if-modified-since": first.headers.get("last-modified")!,
    },
  });
  await expectText(res, 200);
});

Deno.test("serveDir() sends no ETag when etag is false", async () => {
  const res = await serve("/style.css", { method: "HEAD" }, { etag: false });
  assertEquals(res.headers.get("etag"), null);
  assert(res.headers.get("last-modified"));
  // Without a tag only `*` matches, and it matches any file.
  const any = await serve("/style.css", {
    headers: { "if-none-match": "*" },
  }, { etag: false });
  assertEquals(any.status, 304);
  const tagged = await serve("/style.css", {
    headers: { "if-none-match": '"x"' },
  }, { etag: false });
  await expectText(tagged, 200);
});

Deno.test("serveDir() answers 412 to an If-Match that does not match", async () => {
  const first = await serve("/digits.txt", { method: "HEAD" });
  const etag = first.headers.get("etag")!;
  // Strong comparison: a weak ETag matches no tag, not even itself.
  for (const ifMatch of [etag, etag.slice(2), '"x"', `"x", ${etag}`]) {
    for (const method of ["GET", "HEAD"]) {
      const res = await serve("/digits.txt", {
        method,
        headers: { "if-match": ifMatch },
      });
      // Like every error, a short text; a server drops it for HEAD.
      assertEquals(await expectText(res, 412), "Precondition Failed");
      assertEquals(res.headers.get("content-range"), null);
    }
  }
  const ranged = await serve("/digits.txt", {
    headers: { "if-match": '"x"', range: "bytes=0-1" },
  });
  await expectText(ranged, 412);
  // With no ETag at all, a listed tag cannot match either.
  const untagged = await serve("/digits.txt", {
    headers: { "if-match": '"x"' },
  }, { etag: false });
  await expectText(untagged, 412);
});

Deno.test("serveDir() lets If-Match: * through for any file", async () => {
  for (const etag of [true, false]) {
    const res = await serve("/digits.txt", {
      headers: { "if-match": "*" },
    }, { etag });
    assertEquals(await expectText(res, 200), "0123456789");
    const part = await serve("/digits.txt", {
      headers: { "if-match": " * ", range: "bytes=0-1" },
    }, { etag });
    assertEquals(await expectText(part, 206), "01");
  }
  // A missing file stays missing: If-Match does not turn 404 into 412.
  const missing = await serve("/missing.txt", { headers: { "if-match": "*" } });
  await expectText(missing, 404);
});

Deno.test("serveDir() evaluates If-Match before If-None-Match", async () => {
  const first = await serve("/style.css", { method: "HEAD" });
  const etag = first.headers.get("etag")!;
  const failed = await serve("/style.css", {
    headers: { "if-match": '"x"', "if-none-match": etag },
  });
  await expectText(failed, 412);
  const cached = await serve("/style.css", {
    headers: { "if-match": "*", "if-none-match": etag },
  });
  assertEquals(cached.status, 304);
  assertEquals(cached.body, null);
});

Deno.test("serveDir() honours If-Range with the date, never with its weak ETag", async () => {
  const first = await serve("/digits.txt", { method: "HEAD" });
  const etag = first.headers.get("etag")!;
  const lastModified = first.headers.get("last-modified")!;
  // If-Range compares strongly (RFC 9110, section 13.1.5).
  const cases: [string, number][] = [
    [lastModified, 206],
    [etag, 200],
    [etag.slice(2), 200],
    ['"other"', 200],
    ["Sat, 01 Jan 2000 00:00:00 GMT", 200],
  ];
  for (const [ifRange, status] of cases) {
    const res = await serve("/digits.txt", {
      headers: { range: "bytes=0-1", "if-range": ifRange },
    });
    await expectText(res, status);
  }
});

Deno.test("serveDir() adds the headers option to files and 304s", async () => {
  const options = { headers: { "cache-control": "max-age=60" } };
  const res = await serve("/style.css", undefined, options);
  await expectText(res, 200);
  assertEquals(res.headers.get("cache-control"), "max-age=60");
  const cached = await serve(
    "/style.css",
    { headers: { "if-none-match": res.headers.get("etag")! } },
    options,
  );
  assertEquals(cached.status, 304);
  assertEquals(cached.headers.get("cache-control"), "max-age=60");
});

Deno.test("serveDir() serves under urlRoot only", async () => {
  const options = { urlRoot: "/static/" };
  assertEquals(
    await expectText(
      await serve("/static/digits.txt", undefined, options),
      200,
    ),
    "0123456789",
  );
  await expectText(await serve("/digits.txt", undefined, options), 404);
  await expectText(await serve("/staticx/digits.txt", undefined, options), 404);
  const bare = await serve("/static", undefined, options);
  await expectText(bare, 301);
  assertEquals(bare.headers.get("location"), "/static/");
  await expectText(await serve("/static/", undefined, options), 200);
});

Deno.test("serveDir() accepts a file: URL root", async () => {
  const res = await serveDir(request("/digits.txt"), { root: ROOT_URL });
  assertEquals(await expectText(res, 200), "0123456789");
  const str = await serveDir(request("/digits.txt"), { root: ROOT_URL.href });
  assertEquals(await expectText(str, 200), "0123456789");
});

Deno.test("serveDir() answers 404 when the root is missing", async () => {
  const res = await serveDir(request("/"), { root: `${ROOT}/no-such-dir` });
  await expectText(res, 404);
});

Deno.test({
  name: "serveDir() answers 404 for what is neither file nor directory",
  // A Unix socket file stands in; creating one needs --allow-net.
  ignore: Deno.build.os === "windows" ||
    (await Deno.permissions.query({ name: "net" })).state !== "granted",
  fn: async () => {
    await withTempDir(async (dir) => {
      using _socket = Deno.listen({ transport: "unix", path: `${dir}/sock` });
      const res = await serveDir(request("/sock"), { root: dir });
      await expectText(res, 404);
    });
  },
});

Deno.test("serveDir() rejects unsafe and malformed paths with 400", async () => {
  for (
    const path of [
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub/..%2F..%2Fsecret.txt",
      "/..%5csecret.txt",
      "/sub%5c..%5c..%5csecret.txt",
      "/%00",
      "/digits.txt%00.png",
      "/%",
      "/%zz",
      "/%c3",
    ]
  ) {
    const res = await serve(path);
    assertEquals(await expectText(res, 400), "Bad Request", path);
  }
});

Deno.test("serveDir() never serves a file beside the root", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/root/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/secret.txt`, "SECRET");
    const paths = [
      "/../secret.txt",
      "/sub/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2e/secret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "/..\\secret.txt",
      "/..%2fsecret.txt",
      "/..%5csecret.txt",
      "/.%2e/secret.txt",
    ];
    for (const path of paths) {
      const res = await serveDir(request(path), { root: `${dir}/root` });
      const body = await res.text();
      assert([400, 404].includes(res.status), `${path}: ${res.status}`);
      assertFalse(body.includes("SECRET"), path);
    }
  });
});

Deno.test("serveDir() follows symbolic links only inside the real root", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/root/sub`, { recursive: true });
    await Deno.mkdir(`${dir}/outside`);
    await Deno.writeTextFile(`${dir}/outside/secret.txt`, "SECRET");
    await Deno.writeTextFile(`${dir}/root/real.txt`, "real");
    await Deno.symlink(`${dir}/outside/secret.txt`, `${dir}/root/abs.txt`);
    await Deno.symlink("../outside/secret.txt", `${dir}/root/rel.txt`);
    await Deno.symlink("../outside", `${dir}/root/dir`);
    await Deno.symlink(
      "../../outside/secret.txt",
      `${dir}/root/sub/index.html`,
    );
    await Deno.symlink("../real.txt", `${dir}/root/sub/inner.txt`);
    await Deno.symlink("root", `${dir}/alias`);
    // A sibling whose name starts with the root's name is outside too.
    await Deno.mkdir(`${dir}/root2`);
    await Deno.writeTextFile(`${dir}/root2/secret.txt`, "SECRET");
    await Deno.symlink("../root2/secret.txt", `${dir}/root/prefix.txt`);

    for (
      const path of [
        "/abs.txt",
        "/rel.txt",
        "/dir/secret.txt",
        "/dir/",
        "/sub/",
        "/prefix.txt",
      ]
    ) {
      const res = await serveDir(request(path), { root: `${dir}/root` });
      const body = await res.text();
      assertEquals(res.status, 404, path);
      assertFalse(body.includes("SECRET"), path);
    }
    const inner = await serveDir(request("/sub/inner.txt"), {
      root: `${dir}/root`,
    });
    assertEquals(await expectText(inner, 200), "real");
    // The root itself may be a link.
    const aliased = await serveDir(request("/sub/inner.txt"), {
      root: `${dir}/alias`,
    });
    assertEquals(await expectText(aliased, 200), "real");
    const escaped = await serveDir(request("/rel.txt"), {
      root: `${dir}/alias`,
    });
    await expectText(escaped, 404);
  });
});

Deno.test("serveDir() rejects a bad root or index", async () => {
  await assertRejects(
    () => serveDir(request("/"), { root: 42 as unknown as string }),
    TypeError,
    'root must be a string or URL, received "42"',
  );
  for (const index of ["../index.html", "a/b.html", ".."]) {
    await assertRejects(
      () => serveDir(request("/"), { root: ROOT, index }),
      TypeError,
      "index must be a file name",
    );
  }
  await assertRejects(
    () => serveDir(request("/"), { root: ROOT, urlRoot: "a/../b" }),
    TypeError,
    "urlRoot must be a plain URL path",
  );
});

/** Replaces `globalThis.fetch` while `fn` runs. */
async function withFetch(
  stub: (url: URL, init: RequestInit) => Promise<Response>,
  fn: () => Promise<void>,
): Promise<void> {
  const original = globalThis.fetch;
  globalThis.fetch =
    ((input: string | URL | Request, init?: RequestInit) =>
      stub(
        new URL(input instanceof Request ? input.url : input),
        init ?? {},
      )) as typeof fetch;
  try {
    await fn();
  } finally {
    globalThis.fetch = original;
  }
}

Deno.test("serveDir() serves a remote root through fetch()", async () => {
  const calls: [string, string, Headers][] = [];
  await withFetch(async (url, init) => {
    const headers = new Headers(init.headers);
    calls.push([init.method ?? "GET", url.href, headers]);
    const path = url.pathname.replace(/^\/site/, "");
    return await serve(path, { method: init.method, headers });
  }, async () => {
    const root = "https://example.com/site/";
    const index = await serveDir(request("/"), { root });
    assertEquals(index.headers.get("content-type"), "text/html; charset=UTF-8");
    assertStringIncludes(await expectText(index, 200), "root index");
    assertEquals(calls.at(-1)!.slice(0, 2), ["GET", `${root}index.html`]);

    const range = await serveDir(
      request("/digits.txt", { headers: { range: "bytes=-2" } }),
      { root: new URL("https://example.com/site") },
    );
    assertEquals(await expectText(range, 206), "89");
    assertEquals(range.headers.get("content-range"), "bytes 8-9/10");
    assertEquals(calls.at(-1)![2].get("range"), "bytes=-2");

    const nested = await serveDir(request("/sub/"), { root });
    assertStringIncludes(await expectText(nested, 200), "sub index");
    assertEquals(calls.at(-1)![1], `${root}sub/index.html`);

    const head = await serveDir(request("/logo.svg", { method: "HEAD" }), {
      root,
    });
    assertEquals(head.status, 200);
    assertEquals(head.body, null);
    assertEquals(head.headers.get("content-type"), "image/svg+xml");

    const spaced = await serveDir(request("/hello%20w%C3%B6rld.txt"), { root });
    assertEquals(await expectText(spaced, 200), "spaces and unicode\n");

    await expectText(await serveDir(request("/missing"), { root }), 404);

    const failed = await serveDir(
      request("/digits.txt", { headers: { "if-match": '"x"' } }),
      { root },
    );
    assertEquals(await expectText(failed, 412), "Precondition Failed");
    assertEquals(calls.at(-1)![2].get("if-match"), '"x"');
    const count = calls.length;
    await expectText(await serveDir(request("/..%2f"), { root }), 400);
    await expectText(
      await serveDir(request("/x", { method: "POST" }), { root }),
      405,
    );
    assertEquals(calls.length, count);
  });
});

Deno.test("serveDir() answers 502 when a remote root fails", async () => {
  const root = "https://example.com/";
  await withFetch(
    () => Promise.resolve(new Response("boom", { status: 500 })),
    async () => {
      await expectText(await serveDir(request("/a.txt"), { root }), 502);
    },
  );
  await withFetch(
    () => Promise.reject(new TypeError("Network down")),
    async () => {
      await expectText(await serveDir(request("/a.txt"), { root }), 502);
    },
  );
});

Deno.test("DEMO_ROOT is the demo site next to the module", async () => {
  assertEquals(DEMO_ROOT, fileURLToPath(new URL("./demo/", import.meta.url)));
  const res = await serveDir(request("/"), { root: DEMO_ROOT });
  assertEquals(res.headers.get("content-type"), "text/html; charset=UTF-8");
  const html = await expectText(res, 200);
  assertStringIncludes(html, 'href="/_reaper/"');
  for (const entry of Deno.readDirSync(DEMO_ROOT)) {
    const path = `/${encodeURIComponent(entry.name)}`;
    const file = await serveDir(request(path, { method: "HEAD" }), {
      root: DEMO_ROOT,
    });
    assertEquals(file.status, 200, entry.name);
    assert(mimeType(entry.name), `Known type for ${entry.name}`);
  }
  // Nothing the page links to is external or missing.
  for (const [, ref] of html.matchAll(/(?:href|src)="([^"]+)"/g)) {
    assertFalse(/^[a-z]+:|^\/\//i.test(ref), `External resource ${ref}`);
    if (ref.startsWith("/_reaper/") || ref.startsWith("#")) continue;
    const linked = await serveDir(request(`/${ref.replace(/^\//, "")}`), {
      root: DEMO_ROOT,
    });
    await expectText(linked, 200);
  }
});
