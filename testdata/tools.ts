// Copyright 2026 the Reaper authors. MIT license.
// What the tests need from outside Deno: which external commands (curl,
// node, openssl) can run here, for `ignore:`, so that a test that needs a
// missing tool says so instead of failing; and a race for telling a quick
// end from a much slower fallback.

const found = new Map<string, string | undefined>();

/**
 * Whether `name` is a command on `PATH` that this process may run (see
 * {@linkcode commandPath}). Synchronous, so that it can feed a test's
 * `ignore`.
 *
 * @param name A command name such as `"curl"`.
 * @returns Whether the command exists and may be run.
 */
export function hasCommand(name: string): boolean {
  return commandPath(name) !== undefined;
}

/**
 * Where the command `name` is on `PATH`, looked up once per name. This
 * Deno itself does not count: `deno test` puts a `node` that is Deno
 * (`node_compat_bin`) first on the `PATH` of the process, so run Node by
 * the path returned here, not by its name.
 *
 * @param name A command name such as `"node"`.
 * @returns The command's path, or `undefined` when it is missing or this
 * process lacks the permissions to find or run it.
 */
export function commandPath(name: string): string | undefined {
  if (!found.has(name)) found.set(name, lookUp(name));
  return found.get(name);
}

function lookUp(name: string): string | undefined {
  const windows = Deno.build.os === "windows";
  try {
    const self = Deno.realPathSync(Deno.execPath());
    const files = windows ? [`${name}.exe`, `${name}.cmd`] : [name];
    for (const dir of (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":")) {
      if (dir === "") continue;
      for (const file of files) {
        const path = `${dir}${windows ? "\\" : "/"}${file}`;
        if (!isExecutable(path, windows) || Deno.realPathSync(path) === self) {
          continue;
        }
        const run = Deno.permissions.querySync({ name: "run", command: path });
        return run.state === "granted" ? path : undefined;
      }
    }
  } catch {
    // No permission to read PATH or the file system.
  }
  return undefined;
}

function isExecutable(path: string, windows: boolean): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && (windows || ((info.mode ?? 0) & 0o111) !== 0);
  } catch {
    return false;
  }
}

/**
 * Whether `promise` settles before a timer of `ms` fires; the timer is
 * cleared either way. Only for telling an expected quick end from a
 * fallback that takes far longer than `ms` (a shutdown timeout that should
 * not have been needed), never to time what is expected.
 *
 * @param promise What should settle first.
 * @param ms The timer, in milliseconds.
 * @returns `true` if `promise` settled (resolved or rejected) first.
 */
export async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fired = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      fired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
