// Copyright 2026 the Reaper authors. MIT license.
// The options every test server shares.
import type { ServeOptions } from "../_options.ts";

/**
 * A test server's place and manners: any free port on 127.0.0.1, the
 * process's signals left alone, and no "Listening on" line.
 */
export const LOOPBACK: Pick<
  ServeOptions,
  "port" | "hostname" | "signals" | "onListen"
> = {
  port: 0,
  hostname: "127.0.0.1",
  signals: false,
  onListen() {},
};
