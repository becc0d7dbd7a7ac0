/**
 * The seed stage's batching: full batches, a batch seeded when the input has
 * gone quiet (a pipe that stays open), duplicates, and an interrupted input
 * closed. The store is a stand-in holding the seeded names in a Set: what is
 * tested is when the stage seeds and publishes, not how the store keeps them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBus, TOPICS } from "@danesweep/bus";
import type { Store } from "@danesweep/store";
import { type SeedLine, seedDomains } from "../src/seed.ts";

function setStore(): { store: Store; calls: string[][] } {
  const seen = new Set<string>();
  const calls: string[][] = [];
  const store = {
    async seedDomains(_scan: string, items: { domain: string }[]) {
      calls.push(items.map((i) => i.domain));
      const added: string[] = [];
      for (const i of items) {
        if (!seen.has(i.domain)) added.push(i.domain);
        seen.add(i.domain);
      }
      return added;
    },
  };
  return { store: store as unknown as Store, calls };
}

async function published(bus: MemoryBus): Promise<{ names: string[]; stop: () => Promise<void> }> {
  const names: string[] = [];
  const sub = await bus.consume({ topic: TOPICS.domains, group: "t" }, async (m) => {
    names.push(m.key ?? "");
    return { kind: "ack" };
  });
  return { names, stop: () => sub.close() };
}

/** An input that yields its lines, then stays open until `end()`. */
function openInput(lines: string[]): {
  input: AsyncIterable<SeedLine>;
  end: () => void;
  closed: () => boolean;
} {
  let release: () => void = () => {};
  const ended = new Promise<void>((r) => {
    release = r;
  });
  let closed = false;
  async function* gen(): AsyncGenerator<SeedLine> {
    try {
      for (const [i, text] of lines.entries()) yield { source: "-", line: i + 1, text };
      await ended;
    } finally {
      closed = true;
    }
  }
  return { input: gen(), end: release, closed: () => closed };
}

const until = async (ok: () => boolean, ms: number) => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

test("names on an input that stays open are seeded once it goes quiet, not when it closes", async () => {
  const bus = new MemoryBus({ partitions: 2 });
  const { store, calls } = setStore();
  const out = await published(bus);
  const src = openInput(["a.example", "b.example", "A.example."]);
  const done = seedDomains(src.input, { store, bus, scan: "s", batch: 500, maxWaitMs: 50 });
  assert.ok(await until(() => out.names.length === 2, 5000), `published: ${out.names.join(",")}`);
  assert.deepEqual(out.names.sort(), ["a.example", "b.example"]);
  assert.deepEqual(calls, [["a.example", "b.example", "a.example"]]);
  src.end();
  const stats = await done;
  assert.deepEqual(stats, { read: 3, seeded: 2, invalid: 0, optedOut: 0, duplicates: 1 });
  assert.equal(calls.length, 1, "nothing left to seed at the end");
  await out.stop();
});

test("a full batch is seeded at once; the rest when the input ends", async () => {
  const bus = new MemoryBus({ partitions: 2 });
  const { store, calls } = setStore();
  const out = await published(bus);
  const names = Array.from({ length: 7 }, (_, i) => `n${i}.example`);
  async function* lines(): AsyncGenerator<SeedLine> {
    for (const [i, text] of [...names, "bad..name"].entries()) yield { source: "f", line: i + 1, text };
  }
  const stats = await seedDomains(lines(), { store, bus, scan: "s", batch: 3, maxWaitMs: 60_000 });
  assert.deepEqual(
    calls.map((c) => c.length),
    [3, 3, 1],
  );
  assert.deepEqual(stats, { read: 8, seeded: 7, invalid: 1, optedOut: 0, duplicates: 0 });
  assert.ok(await until(() => out.names.length === 7, 5000));
  await out.stop();
});

test("interrupted while the input is open and quiet: the stage returns at once, the input is closed", {
  timeout: 10_000,
}, async () => {
  const bus = new MemoryBus({ partitions: 2 });
  const { store, calls } = setStore();
  const ac = new AbortController();
  const src = openInput(["x.example"]);
  const done = seedDomains(src.input, { store, bus, scan: "s", maxWaitMs: 20, signal: ac.signal });
  assert.ok(await until(() => calls.length === 1, 5000));
  ac.abort();
  const stats = await done;
  assert.equal(stats.seeded, 1);
  assert.equal(src.closed(), false);
  // Its pending read is answered last; then the input is closed, not read on.
  src.end();
  assert.ok(await until(src.closed, 5000), "the input was closed");
});
