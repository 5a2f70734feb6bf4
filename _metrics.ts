// Copyright 2026 the Reaper authors. MIT license.
/**
 * Exports a server's counters as OpenTelemetry metrics through Deno's
 * built-in OpenTelemetry support (`OTEL_DENO=true`). Every instrument is
 * observable: the values are read from `stats()` when the exporter collects,
 * so the hot path pays nothing. Without `OTEL_DENO=true` Deno's meter
 * provider records nothing.
 *
 * @module
 */

import type { ServerStats } from "./types.ts";

const STATES = ["new", "reading", "active", "writing", "idle"] as const;

interface Observation {
  observe(
    instrument: unknown,
    value: number,
    attributes?: Record<string, string | number>,
  ): void;
}

interface Meter {
  createObservableUpDownCounter(name: string, options?: object): unknown;
  createObservableCounter(name: string, options?: object): unknown;
  addBatchObservableCallback(
    callback: (result: Observation) => void,
    instruments: unknown[],
  ): void;
  removeBatchObservableCallback(
    callback: (result: Observation) => void,
    instruments: unknown[],
  ): void;
}

function findMeter(version: string): Meter | undefined {
  // deno-lint-ignore no-explicit-any
  const provider = (Deno as any).telemetry?.meterProvider;
  try {
    return provider?.getMeter("reaper", version) as Meter | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Registers the metrics of one server:
 *
 * | metric | kind | attributes |
 * | --- | --- | --- |
 * | `reaper.connections.open` | up-down counter | `state` |
 * | `reaper.connections.accepted` | counter | |
 * | `reaper.connections.closed` | counter | `reason` |
 * | `reaper.requests` | counter | |
 *
 * Each carries the server's address, as OpenTelemetry's semantic
 * conventions name it: `server.port` for TCP; `server.address` (the
 * socket's path) and `network.transport` `"unix"` for a Unix socket.
 *
 * @param stats Reads the server's counters.
 * @param addr The address the server listens on.
 * @returns A function that unregisters them.
 */
export function registerMetrics(
  stats: () => ServerStats,
  addr: Deno.NetAddr | Deno.UnixAddr,
): () => void {
  const meter = findMeter("0.1.0");
  if (!meter) return () => {};
  try {
    const open = meter.createObservableUpDownCounter(
      "reaper.connections.open",
      { description: "Open connections by state", unit: "{connection}" },
    );
    const accepted = meter.createObservableCounter(
      "reaper.connections.accepted",
      { description: "Connections accepted", unit: "{connection}" },
    );
    const closed = meter.createObservableCounter(
      "reaper.connections.closed",
      { description: "Connections closed, by reason", unit: "{connection}" },
    );
    const requests = meter.createObservableCounter("reaper.requests", {
      description: "Requests started",
      unit: "{request}",
    });
    const instruments = [open, accepted, closed, requests];
    const base: Record<string, string | number> = "path" in addr
      ? { "server.address": addr.path, "network.transport": "unix" }
      : { "server.port": addr.port };
    const callback = (result: Observation) => {
      const s = stats();
      for (const state of STATES) {
        result.observe(open, s.open[state], { ...base, state });
      }
      result.observe(accepted, s.accepted, base);
      for (const [reason, count] of Object.entries(s.closed)) {
        result.observe(closed, count, { ...base, reason });
      }
      result.observe(requests, s.requests, base);
    };
    meter.addBatchObservableCallback(callback, instruments);
    return () => {
      try {
        meter.removeBatchObservableCallback(callback, instruments);
      } catch {
        // The runtime is shutting down its exporter: nothing to undo.
      }
    };
  } catch {
    // A runtime whose meter lacks these instruments: no metrics.
    return () => {};
  }
}
