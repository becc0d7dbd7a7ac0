/**
 * The fixed ports of the services the tests and the dev set-up start
 * (scripts/services/*.sh defaults, the private brokers and PostgreSQL of
 * harness.ts) lie outside the kernel's ephemeral port range. A listener on a
 * port inside it fails to start whenever an outgoing connection happens to
 * hold that port as its local end (CI saw Jaeger's OTLP port taken so, right
 * after Kafka started), and two of these services on one port would collide.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PRIVATE_KAFKA_PORTS, PRIVATE_PG_PORTS, ROOT } from "./harness.ts";

/** Linux's default when /proc is not there to say. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi)) return [lo, hi];
  } catch {}
  return [32768, 60999];
}

/** `name="${DANESWEEP_X_PORT:-NNNN}"` defaults of a service script. */
function scriptDefaults(script: string): Map<string, number> {
  const text = readFileSync(join(ROOT, "scripts/services", script), "utf8");
  const out = new Map<string, number>();
  for (const [, , name, port] of text.matchAll(/^(\w+)="\$\{(DANESWEEP_\w*PORT):-(\d+)\}"$/gm)) {
    if (name !== undefined) out.set(name, Number(port));
  }
  return out;
}

function allPorts(): { what: string; port: number }[] {
  const ports: { what: string; port: number }[] = [];
  const pg = scriptDefaults("postgres.sh");
  const kafka = scriptDefaults("kafka.sh");
  const jaeger = scriptDefaults("jaeger.sh");
  assert.deepEqual([...pg.keys()], ["DANESWEEP_PG_PORT"], "postgres.sh's port default was not found");
  assert.deepEqual(
    [...kafka.keys()].sort(),
    ["DANESWEEP_KAFKA_CONTROLLER_PORT", "DANESWEEP_KAFKA_PORT"],
    "kafka.sh's port defaults were not found",
  );
  assert.deepEqual(
    [...jaeger.keys()].sort(),
    ["DANESWEEP_JAEGER_OTLP_PORT", "DANESWEEP_JAEGER_QUERY_PORT"],
    "jaeger.sh's port defaults were not found",
  );
  for (const [k, v] of [...pg, ...kafka]) ports.push({ what: k, port: v });
  for (const [k, v] of jaeger) {
    ports.push({ what: k, port: v });
    ports.push({ what: `${k} - 1 (gRPC)`, port: v - 1 });
  }
  for (const [name, p] of Object.entries(PRIVATE_KAFKA_PORTS)) {
    ports.push({ what: `private Kafka ${name}`, port: p });
    ports.push({ what: `private Kafka ${name} controller`, port: p + 1 });
  }
  for (const [name, p] of Object.entries(PRIVATE_PG_PORTS))
    ports.push({ what: `private PostgreSQL ${name}`, port: p });
  return ports;
}

test("every fixed service port lies outside the ephemeral port range", () => {
  const [lo, hi] = ephemeralRange();
  const inside = allPorts().filter(({ port }) => port >= lo && port <= hi);
  assert.deepEqual(inside, [], `ports inside the ephemeral range ${lo}-${hi}`);
});

test("no two services share a fixed port", () => {
  const seen = new Map<number, string>();
  for (const { what, port } of allPorts()) {
    assert.ok(port > 1024 && port < 65536, `${what}: ${port} is not an unprivileged port`);
    assert.equal(seen.get(port), undefined, `${what} and ${seen.get(port)} both use ${port}`);
    seen.set(port, what);
  }
});
