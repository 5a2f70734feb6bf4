// Copyright 2026 the Reaper authors. MIT license.
/**
 * Static file serving on Web {@linkcode Request} and {@linkcode Response},
 * independent of any server: {@linkcode serveDir} answers `GET` and `HEAD`
 * from a directory with the right `Content-Type`, `ETag` and
 * `Last-Modified` validators (`304 Not Modified`, `412 Precondition
 * Failed`), single byte ranges (`206`/`416`) and `index.html` for
 * directories. Files are streamed, never read whole into memory, and no
 * request can reach a file outside the root: `..` segments, encoded
 * slashes and dots, backslashes and NUL bytes are refused, and symbolic
 * links are followed only while their real path stays inside the real
 * root.
 *
 * {@linkcode DEMO_ROOT} locates the demo site that ships with Reaper.
 *
 * @example Serve the current directory
 * ```ts ignore
 * import { serveDir } from "./file_server.ts";
 *
 * Deno.serve((req) => serveDir(req, { root: "." }));
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { contentType as stdContentType } from "npm:deno-std@1.4.0/media_types/mod.js";
import {
  eTag as stdETag,
  ifMatch as stdIfMatch,
  ifNoneMatch as stdIfNoneMatch,
} from "npm:deno-std@1.4.0/http/etag.js";
import {
  STATUS_CODE as stdStatusCode,
  STATUS_TEXT as stdStatusText,
} from "npm:deno-std@1.4.0/http/status.js";

// The npm build of std ships no types: each import is typed here, as far
// as this module uses it.

/** std's `contentType()`. */
const contentTypeOf: (extensionOrType: string) => string | undefined =
  stdContentType;
/**
 * std's `eTag()` of a file's info: weak, `W/"<size in hex>-<27 base64
 * characters of the SHA-256 of the mtime>"`, or `undefined` when the file
 * system reports no mtime.
 */
const fileETag: (info: Deno.FileInfo) => Promise<string | undefined> = stdETag;
/**
 * std's `ifMatch()`: whether an `If-Match` list holds `etag` under strong
 * comparison (so never for a weak `etag`, not even for `*`).
 */
const ifMatch: (value: string, etag: string) => boolean = stdIfMatch;
/**
 * std's `ifNoneMatch()`: `false` when an `If-None-Match` list is `*` or
 * holds `etag` under weak comparison, that is when the client's copy is
 * current.
 */
const ifNoneMatch: (value: string, etag: string) => boolean = stdIfNoneMatch;
/** std's `STATUS_CODE`, the statuses this module answers with. */
const STATUS: {
  readonly OK: 200;
  readonly PartialContent: 206;
  readonly MovedPermanently: 301;
  readonly NotModified: 304;
  readonly BadRequest: 400;
  readonly Forbidden: 403;
  readonly NotFound: 404;
  readonly MethodNotAllowed: 405;
  readonly Gone: 410;
  readonly PreconditionFailed: 412;
  readonly RangeNotSatisfiable: 416;
  readonly InternalServerError: 500;
  readonly BadGateway: 502;
} = stdStatusCode;
/** std's `STATUS_TEXT`: the reason phrase of a status. */
const STATUS_TEXT: Readonly<Record<number, string>> = stdStatusText;

const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";
/** Bytes read from a file per chunk of a range response. */
const CHUNK_SIZE = 64 * 1024;

/** Options for {@linkcode serveDir}. */
export interface ServeDirOptions {
  /**
   * The directory to serve: a path, absolute or relative to the current
   * working directory, or a `file:`, `http:` or `https:` URL (as a
   * {@linkcode URL} or a string that starts with the scheme).
   *
   * A remote (`http:`/`https:`) root is served through `fetch()`: `GET` and
   * `HEAD` are forwarded with their `Range` and conditional headers, and a
   * URL path that ends in `/` gets the index file. A remote server cannot
   * tell a directory from a missing file, so a directory URL without its
   * trailing slash is answered with `404` rather than a redirect.
   */
  root: string | URL;
  /**
   * The file served for a directory URL (one that ends in `/`). An empty
   * string serves no index: directories answer `404`.
   *
   * @default {"index.html"}
   */
  index?: string;
  /**
   * Whether to send an `ETag` and honour the entity tags of `If-Match`,
   * `If-None-Match` and `If-Range`. The tag is std's `eTag()` of the file's
   * info: a weak tag derived from the file's size and modification time,
   * `W/"<size in hex>-<hash of the mtime>"` (none when the file system
   * reports no modification time). Being weak, it satisfies
   * `If-None-Match` but never `If-Match` or `If-Range`, which compare
   * strongly (RFC 9110, section 8.8.3.2).
   *
   * @default {true}
   */
  etag?: boolean;
  /**
   * The URL path under which {@linkcode ServeDirOptions.root} is mounted,
   * for example `"static"` to serve `root/app.js` at `/static/app.js`.
   * Requests outside it answer `404`.
   *
   * @default {""}
   */
  urlRoot?: string;
  /**
   * Headers added to every `200`, `206` and `304` response, for example
   * `{ "cache-control": "max-age=60" }`.
   *
   * @default {undefined}
   */
  headers?: HeadersInit;
}

/**
 * The `Content-Type` header value for a file name or path, from std's
 * maintained media type table, with `charset=UTF-8` for text types.
 *
 * @param path A file name or path; only its extension counts.
 * @returns The content type, or `undefined` when the extension is missing
 * or unknown.
 *
 * @example Usage
 * ```ts
 * import { mimeType } from "./file_server.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(mimeType("site/index.html"), "text/html; charset=UTF-8");
 * assertEquals(mimeType("logo.svg"), "image/svg+xml");
 * assertEquals(mimeType("Makefile"), undefined);
 * ```
 */
export function mimeType(path: string): string | undefined {
  const name = path.slice(
    Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1,
  );
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  return contentTypeOf(name.slice(dot).toLowerCase());
}

/**
 * The demo site that ships with Reaper (the `demo/` directory next to this
 * module), for {@linkcode ServeDirOptions.root}: a file system path when
 * the module is loaded from disk, else the `http(s):` URL of the directory
 * (with a trailing slash), which {@linkcode serveDir} serves through
 * `fetch()`.
 *
 * @example Usage
 * ```ts ignore
 * import { DEMO_ROOT, serveDir } from "./file_server.ts";
 *
 * Deno.serve((req) => serveDir(req, { root: DEMO_ROOT }));
 * ```
 */
export const DEMO_ROOT: string = demoRoot();

function demoRoot(): string {
  const url = new URL("./demo/", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

/**
 * Answers a `GET` or `HEAD` request with a file from a directory.
 *
 * - `200` with the file, streamed; `HEAD` gets the same headers without a
 *   body. Every response with a file says `Accept-Ranges: bytes`.
 * - `206` with `Content-Range` for a satisfiable single `Range: bytes=`
 *   (`a-b`, `a-`, `-n`) on `GET`, unless `If-Range` does not match; `416`
 *   with `Content-Range: bytes *\/size` for an unsatisfiable one. A range
 *   list or a malformed range is ignored (`200`).
 * - `304` when `If-None-Match` matches the `ETag` (weak comparison; `*`
 *   matches any file) or, without `If-None-Match`, when the file has not
 *   changed since `If-Modified-Since`.
 * - `412` when `If-Match` is neither `*` nor a list that holds the `ETag`
 *   under strong comparison. The `ETag` is weak, so only `If-Match: *`
 *   passes. `If-Match` is evaluated before `If-None-Match` (RFC 9110,
 *   section 13.2.2).
 * - `301` from a directory URL without a trailing slash to the one with it;
 *   the directory's index file for a URL with it.
 * - `400` for a malformed or unsafe path: bad percent-encoding, a `.` or
 *   `..` segment, an encoded `/`, a backslash or a NUL byte.
 * - `403` when the file system denies access.
 * - `404` for a missing file, a directory without index file, a file URL
 *   with a trailing slash, something that is neither file nor directory,
 *   and a symbolic link whose real path leaves the real root.
 * - `405` with `Allow: GET, HEAD` for any other method.
 * - `502` when a remote root fails.
 *
 * Error responses have short plain-text bodies. The file handle is opened
 * only for a `200` or `206` body and is closed when the body has been read
 * or is cancelled (a client that goes away). A body must therefore be
 * consumed or cancelled.
 *
 * @param req The request; only its method, URL and headers are read.
 * @param options Where the files are and how to serve them.
 * @returns The response.
 * @throws {TypeError} If `options.root` is not a string or URL, or
 * `options.index` is not a plain file name.
 * @throws {Deno.errors.NotCapable} If the process may not read the root.
 *
 * @example Usage
 * ```ts
 * import { serveDir } from "./file_server.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const res = await serveDir(
 *   new Request("http://localhost/style.css", { method: "HEAD" }),
 *   { root: "testdata/files" },
 * );
 * assertEquals(res.status, 200);
 * assertEquals(res.headers.get("content-type"), "text/css; charset=UTF-8");
 * ```
 */
export async function serveDir(
  req: Request,
  options: ServeDirOptions,
): Promise<Response> {
  const root = options.root;
  if (typeof root !== "string" && !(root instanceof URL)) {
    throw new TypeError(
      `Cannot serve directory: root must be a string or URL, received ${
        JSON.stringify(String(root))
      }`,
    );
  }
  const index = options.index ?? "index.html";
  if (
    typeof index !== "string" || index === "." || index === ".." ||
    /[\/\\\0]/.test(index)
  ) {
    throw new TypeError(
      `Cannot serve directory: index must be a file name, received ${
        JSON.stringify(String(index))
      }`,
    );
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return plain(STATUS.MethodNotAllowed, { allow: "GET, HEAD" });
  }
  const url = new URL(req.url);
  const segments = decodeSegments(url.pathname);
  const mount = decodeSegments(`/${options.urlRoot ?? ""}`);
  if (segments === undefined) return plain(STATUS.BadRequest);
  if (mount === undefined) {
    throw new TypeError(
      `Cannot serve directory: urlRoot must be a plain URL path, received ${
        JSON.stringify(options.urlRoot)
      }`,
    );
  }
  if (!mount.every((segment, i) => segments[i] === segment)) {
    return plain(STATUS.NotFound);
  }
  const target: Target = {
    segments: segments.slice(mount.length),
    trailingSlash: url.pathname.endsWith("/"),
    location: "/" + segments.map(encodeURIComponent).join("/") + "/" +
      url.search,
    index,
  };
  const rootUrl = rootAsUrl(root);
  try {
    if (rootUrl !== undefined && rootUrl.protocol !== "file:") {
      return await serveRemote(req, rootUrl, target, options);
    }
    const rootPath = rootUrl === undefined
      ? root as string
      : fileURLToPath(rootUrl);
    return await serveLocal(req, rootPath, target, options);
  } catch (error) {
    return errorResponse(error);
  }
}

/** A request path, decoded and checked. */
interface Target {
  /** Path segments below the root, decoded. */
  segments: string[];
  /** Whether the URL path ends in `/`. */
  trailingSlash: boolean;
  /** Where to redirect a directory URL without a trailing slash. */
  location: string;
  /** The index file name, or `""`. */
  index: string;
}

/**
 * Splits a URL path into decoded segments, dropping empty ones. Returns
 * `undefined` when a segment is malformed or could leave its directory.
 */
function decodeSegments(pathname: string): string[] | undefined {
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (
      segment === "." || segment === ".." || /[\/\\\0]/.test(segment) ||
      (WINDOWS && segment.includes(":"))
    ) {
      return undefined;
    }
    segments.push(segment);
  }
  return segments;
}

function rootAsUrl(root: string | URL): URL | undefined {
  if (root instanceof URL) return root;
  return /^(?:https?|file):\/\//i.test(root) ? new URL(root) : undefined;
}

async function serveLocal(
  req: Request,
  rootPath: string,
  target: Target,
  options: ServeDirOptions,
): Promise<Response> {
  const realRoot = await Deno.realPath(rootPath);
  const base = realRoot.endsWith(SEP) ? realRoot.slice(0, -1) : realRoot;
  const inside = (path: string): boolean =>
    path === realRoot || path.startsWith(base + SEP);

  let path = await Deno.realPath([base, ...target.segments].join(SEP));
  if (!inside(path)) return plain(STATUS.NotFound);
  let info = await Deno.stat(path);
  let name = target.segments.at(-1) ?? "";
  if (info.isDirectory) {
    if (!target.trailingSlash) {
      return plain(STATUS.MovedPermanently, { location: target.location });
    }
    if (target.index === "") return plain(STATUS.NotFound);
    path = await Deno.realPath(path + SEP + target.index);
    if (!inside(path)) return plain(STATUS.NotFound);
    info = await Deno.stat(path);
    name = target.index;
  } else if (target.trailingSlash) {
    return plain(STATUS.NotFound);
  }
  if (!info.isFile) return plain(STATUS.NotFound);

  const size = info.size;
  const headers = new Headers(options.headers);
  const etag = (options.etag ?? true) ? await fileETag(info) : undefined;
  if (etag !== undefined) headers.set("etag", etag);
  if (info.mtime !== null) {
    headers.set("last-modified", info.mtime.toUTCString());
  }
  if (!matchesIfMatch(req.headers, etag)) {
    return plain(STATUS.PreconditionFailed);
  }
  if (isNotModified(req.headers, etag, info.mtime)) {
    return new Response(null, { status: STATUS.NotModified, headers });
  }

  headers.set("accept-ranges", "bytes");
  headers.set("content-type", mimeType(name) ?? "application/octet-stream");
  const range = requestedRange(req, headers, size);
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${size}`);
    headers.set("content-type", "text/plain; charset=UTF-8");
    const status = STATUS.RangeNotSatisfiable;
    return new Response(STATUS_TEXT[status], { status, headers });
  }
  const [start, end] = range ?? [0, size - 1];
  const length = end - start + 1;
  headers.set("content-length", String(length));
  if (range !== undefined) {
    headers.set("content-range", `bytes ${start}-${end}/${size}`);
  }
  const status = range === undefined ? STATUS.OK : STATUS.PartialContent;
  if (req.method === "HEAD") return new Response(null, { status, headers });

  const file = await Deno.open(path, { read: true });
  if (range === undefined) {
    return new Response(file.readable, { status, headers });
  }
  try {
    await file.seek(start, Deno.SeekMode.Start);
  } catch (error) {
    file.close();
    throw error;
  }
  return new Response(slice(file, length), { status, headers });
}

/** Whether a conditional header's value is `*` (any current file). */
function isAny(value: string): boolean {
  return value.trim() === "*";
}

/**
 * Whether a request may proceed past `If-Match` (RFC 9110, section
 * 13.1.1): it has none, it is `*`, or it lists `etag` under strong
 * comparison.
 *
 * `*` is checked here, not by std's `ifMatch()`: that one answers `false`
 * for `*` when the tag is weak or missing, but `*` asks only whether the
 * file exists, and it does.
 */
function matchesIfMatch(request: Headers, etag: string | undefined): boolean {
  const value = request.get("if-match");
  if (value === null || isAny(value)) return true;
  return etag !== undefined && ifMatch(value, etag);
}

/**
 * Whether the conditional headers of a request say that the client's copy
 * is current (RFC 9110, section 13.2.2): `If-None-Match` first (weak
 * comparison), else `If-Modified-Since`.
 *
 * Without an entity tag (`etag: false`, or no mtime) `*` is checked here:
 * std's `ifNoneMatch()` then says "no match" even for `*`, which matches
 * any current file.
 */
function isNotModified(
  request: Headers,
  etag: string | undefined,
  mtime: Date | null,
): boolean {
  const value = request.get("if-none-match");
  if (value !== null) {
    return etag === undefined ? isAny(value) : !ifNoneMatch(value, etag);
  }
  const ifModifiedSince = request.get("if-modified-since");
  if (ifModifiedSince === null || mtime === null) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) &&
    Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/**
 * The byte range a `GET` asks for, inclusive, `"unsatisfiable"`, or
 * `undefined` for the whole file (no `Range`, a range list, a malformed
 * range, or an `If-Range` that does not match).
 */
function requestedRange(
  req: Request,
  response: Headers,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const value = req.method === "GET" ? req.headers.get("range") : null;
  if (value === null) return undefined;
  const ifRange = req.headers.get("if-range");
  if (ifRange !== null) {
    // One entity tag or one date (RFC 9110, section 13.1.5), compared
    // strongly. Not std's ifMatch(): it takes a list and `*`, which
    // If-Range does not. A weak ETag (ours always is) never matches.
    const trimmed = ifRange.trim();
    const etag = response.get("etag");
    const matches = trimmed.startsWith('"') || trimmed.startsWith("W/")
      ? etag !== null && !etag.startsWith("W/") && trimmed === etag
      : trimmed === response.get("last-modified");
    if (!matches) return undefined;
  }
  const match = /^bytes=(\d*)-(\d*)$/i.exec(value.trim());
  if (match === null) return undefined;
  const [, first, last] = match;
  if (first === "") {
    if (last === "") return undefined;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === "" ? Infinity : Number(last);
  if (end < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return [start, Math.min(end, size - 1)];
}

/** The statuses of a remote root that are passed on as they are. */
const PASSED_STATUSES: ReadonlySet<number> = new Set([
  STATUS.OK,
  STATUS.PartialContent,
  STATUS.NotModified,
  STATUS.RangeNotSatisfiable,
]);

/** The request fields a remote root gets, for conditional and range requests. */
const FORWARDED_FIELDS = [
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
];

/** The fields of a remote root's answer that the client gets. */
const RETURNED_FIELDS = [
  "etag",
  "last-modified",
  "content-length",
  "content-range",
  "accept-ranges",
];

/** Copies the named fields that `from` has into `to`; returns `to`. */
function copyFields(from: Headers, to: Headers, names: string[]): Headers {
  for (const name of names) {
    const value = from.get(name);
    if (value !== null) to.set(name, value);
  }
  return to;
}

/**
 * A stream of the next `length` bytes of `file`. Closes the file at the
 * end, on an error and on cancel.
 */
function slice(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  let open = true;
  const close = (): void => {
    if (open) {
      open = false;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        const buffer = new Uint8Array(Math.min(CHUNK_SIZE, remaining));
        const read = await file.read(buffer);
        if (read === null) {
          throw new RangeError(
            `Cannot send file: it ended ${remaining} bytes early`,
          );
        }
        remaining -= read;
        controller.enqueue(buffer.subarray(0, read));
        if (remaining === 0) {
          close();
          controller.close();
        }
      } catch (error) {
        close();
        throw error;
      }
    },
    cancel(): void {
      close();
    },
  }, { highWaterMark: 0 });
}

async function serveRemote(
  req: Request,
  root: URL,
  target: Target,
  options: ServeDirOptions,
): Promise<Response> {
  const base = root.href.endsWith("/") ? root : new URL(`${root.href}/`);
  let path = target.segments.map(encodeURIComponent).join("/");
  let name = target.segments.at(-1) ?? "";
  if (target.segments.length === 0 && !target.trailingSlash) {
    return plain(STATUS.MovedPermanently, { location: target.location });
  }
  if (target.trailingSlash || target.segments.length === 0) {
    if (target.index === "") return plain(STATUS.NotFound);
    path += (path === "" ? "" : "/") + encodeURIComponent(target.index);
    name = target.index;
  }
  const forwarded = copyFields(req.headers, new Headers(), FORWARDED_FIELDS);
  let upstream: Response;
  try {
    upstream = await fetch(new URL(path, base), {
      method: req.method,
      headers: forwarded,
      signal: req.signal,
    });
  } catch {
    return plain(STATUS.BadGateway);
  }
  const status = upstream.status;
  if (!PASSED_STATUSES.has(status)) {
    await upstream.body?.cancel();
    return status === STATUS.PreconditionFailed
      ? plain(STATUS.PreconditionFailed)
      : status === STATUS.NotFound || status === STATUS.Gone
      ? plain(STATUS.NotFound)
      : plain(STATUS.BadGateway);
  }
  const headers = copyFields(
    upstream.headers,
    new Headers(options.headers),
    RETURNED_FIELDS,
  );
  if (options.etag === false) headers.delete("etag");
  if (status !== STATUS.NotModified) {
    headers.set("content-type", mimeType(name) ?? "application/octet-stream");
  }
  if (req.method === "HEAD" || status === STATUS.NotModified) {
    await upstream.body?.cancel();
    return new Response(null, { status, headers });
  }
  return new Response(upstream.body, { status, headers });
}

/** A response whose plain-text body is the status's reason phrase. */
function plain(
  status: number,
  headers: Record<string, string> = {},
): Response {
  return new Response(STATUS_TEXT[status], {
    status,
    headers: { ...headers, "content-type": "text/plain; charset=UTF-8" },
  });
}

function errorResponse(error: unknown): Response {
  if (error instanceof Deno.errors.NotCapable) throw error;
  if (
    error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.FilesystemLoop ||
    (error as { code?: unknown } | null)?.code === "ENAMETOOLONG"
  ) {
    return plain(STATUS.NotFound);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return plain(STATUS.Forbidden);
  }
  return plain(STATUS.InternalServerError);
}
