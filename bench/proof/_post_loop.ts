// Copyright 2026 the Reaper authors. MIT license.
/**
 * A POST load for `rolling_restart.sh`: `CONCURRENCY` loops, each sending
 * `POST URL` with a 1 KiB body over keep-alive (`fetch`'s connection pool)
 * one after another, until `STOP_FILE` exists or `SECONDS` have passed.
 *
 * Usage:
 * `deno run --allow-net --allow-read bench/proof/_post_loop.ts URL SECONDS CONCURRENCY STOP_FILE`
 *
 * Prints one line at the end:
 * `Posts TOTAL OK NON_2XX ERRORS [first non-2xx statuses and errors]`.
 *
 * @module
 */

const [url, seconds, concurrency, stopFile] = Deno.args;
const deadline = Date.now() + Number(seconds) * 1_000;
const body = new Uint8Array(1_024).fill(97);
let total = 0;
let ok = 0;
let bad = 0;
let errors = 0;
const samples: string[] = [];

async function stopped(): Promise<boolean> {
  if (Date.now() > deadline) return true;
  try {
    await Deno.stat(stopFile);
    return true;
  } catch {
    return false;
  }
}

async function loop(): Promise<void> {
  while (!await stopped()) {
    total++;
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        signal: AbortSignal.timeout(5_000),
      });
      await response.arrayBuffer();
      if (response.status >= 200 && response.status < 300) ok++;
      else {
        bad++;
        if (samples.length < 5) samples.push(String(response.status));
      }
    } catch (error) {
      errors++;
      if (samples.length < 5) {
        samples.push(String(error).split("\n")[0].slice(0, 80));
      }
    }
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, loop));
console.log(
  `Posts ${total} ${ok} ${bad} ${errors}${
    samples.length ? ` ${JSON.stringify(samples)}` : ""
  }`,
);
