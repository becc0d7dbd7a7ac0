/**
 * The seeder service: reads domain lists (files named as arguments or in
 * DANESWEEP_SEED_FILES, "-" for standard input), normalises and
 * de-duplicates them, creates the scan record in PostgreSQL and publishes the
 * domains to [domains] (libs/pipeline seedDomains). With DANESWEEP_FOLLOW
 * (default on) it then follows the scan in the store until every seeded
 * domain is judged, marks it finished and records its change events (libs/store
 * changes.ts; a failure there exits 1, and the next finished scan records
 * them). Run once per scan (a Job):
 *   node services/seeder/src/main.ts [FILE... | -]
 * The scan id is printed on stdout as one JSON line {"scan": ID} before
 * seeding starts.
 *
 * DANESWEEP_SCAN_ID names the scan; if it exists and is not finished, the
 * domains it has not judged are published again first (resume), then the
 * input is seeded (names already in the scan are skipped by the store).
 * Exit codes: 0 finished (or seeded, without follow), 1 failure or stuck
 * (messages of the scan dead-lettered), 2 bad settings or unreadable input,
 * 130 interrupted (SIGTERM/SIGINT: the scan is marked interrupted).
 */
import { accessSync, constants } from "node:fs";
import { deadLetterTopic, type IncomingMessage, scanOfText, TOPICS } from "@danesweep/bus";
import {
  pipelineTopics as pipelineTopicsFor,
  republishPending,
  ScanFollower,
  type SeedStats,
  seedDomains,
} from "@danesweep/pipeline";
import { type OptOutList, readOptOutFile } from "@danesweep/probe";
import {
  counterOf,
  errorFields,
  gaugeOf,
  readSettingFile,
  type ServiceSpec,
  StartRefused,
} from "@danesweep/runtime";
import { newScanId, recordChanges } from "@danesweep/store";
import { Type } from "@sinclair/typebox";
import { readLists } from "./input.ts";

export const fields = {
  seedFiles: {
    env: "DANESWEEP_SEED_FILES",
    schema: Type.Array(Type.String({ minLength: 1 })),
    default: [] as string[],
    doc: "domain list files (comma-separated; '-' for stdin), beside any given as arguments",
  },
  scanId: {
    env: "DANESWEEP_SCAN_ID",
    schema: Type.String({ pattern: "^([A-Za-z0-9_-]{1,64})?$" }),
    default: "",
    doc: "scan id to create or resume (default: a new one)",
  },
  follow: {
    env: "DANESWEEP_FOLLOW",
    schema: Type.Boolean(),
    default: true,
    doc: "wait until every seeded domain is judged, then mark the scan finished",
  },
  stallMs: {
    env: "DANESWEEP_STALL_MS",
    schema: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
    default: 60_000,
    doc: "no progress for this long: report it (and fail if messages of the scan were dead-lettered)",
  },
  optOutFile: {
    env: "DANESWEEP_OPT_OUT",
    schema: Type.String(),
    default: "",
    doc: "opt-out list: domain:NAME entries are not seeded",
  },
};

function loadOptOut(file: string): OptOutList | undefined {
  return file === "" ? undefined : readSettingFile("DANESWEEP_OPT_OUT", () => readOptOutFile(file));
}

export const seederService: ServiceSpec<typeof fields> = {
  name: "seeder",
  summary: "domain lists -> scan record -> [domains]; follows the scan to completion",
  fields,
  async start(ctx) {
    const c = ctx.config;
    const files = [...c.seedFiles, ...(c as unknown as { positionals: string[] }).positionals];
    if (files.length === 0 && c.scanId === "") {
      throw new StartRefused(
        "nothing to seed: name domain list files (or - for stdin), or DANESWEEP_SCAN_ID to resume",
        2,
      );
    }
    for (const f of files) {
      if (f === "-") continue;
      try {
        accessSync(f, constants.R_OK);
      } catch (e) {
        throw new StartRefused(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code}`, 2);
      }
    }
    const optOut = loadOptOut(c.optOutFile);
    const store = ctx.store;
    if (!store) throw new Error("the seeder needs the store");
    await ctx.retryStart("create topics", () =>
      ctx.bus.ensureTopics(pipelineTopicsFor(c.partitions, c.replication)),
    );

    let scan = c.scanId;
    let resume = false;
    if (scan !== "") {
      const row = await store.getScanRow(scan);
      if (row?.state === "finished") throw new StartRefused(`scan ${scan} already finished`, 2);
      resume = row !== undefined;
      if (resume) await store.resumeScan(scan);
    } else {
      scan = newScanId(new Date());
    }
    if (!resume) {
      await store.createScan({
        id: scan,
        parameters: { inputs: { files }, seeder: "service" },
        startedAt: new Date().toISOString(),
      });
    }
    process.stdout.write(`${JSON.stringify({ scan })}\n`);
    const log = ctx.log.child({ scan });

    let deadLetters = 0;
    const onDead = async (m: IncomingMessage) => {
      if (scanOfText(m.value) === scan) {
        deadLetters++;
        log.warn("message of the scan dead-lettered", {
          topic: m.topic,
          key: m.key,
          reason: m.headers["x-dlq-reason"],
        });
      }
      return { kind: "ack" } as const;
    };
    const watchers = [];
    for (const t of Object.values(TOPICS)) {
      watchers.push(
        await ctx.consume({ topic: deadLetterTopic(t), group: `${ctx.group("seeder")}.${scan}` }, onDead),
      );
    }

    let seed: SeedStats = { read: 0, seeded: 0, invalid: 0, optedOut: 0, duplicates: 0 };
    let inputDone = false;
    const follower = new ScanFollower({
      store,
      scan,
      signal: ctx.signal,
      onVerdict: () => {},
      inputDone: () => inputDone,
      deadLetters: () => deadLetters,
      stallMs: c.stallMs,
      onStall: (idleMs, counts) =>
        log.warn("no progress", { idleMs, total: counts.total, judged: counts.judged }),
      onStoreError: (e) => log.warn("store error while following", { error: errorFields(e) }),
    });

    const done = (async (): Promise<number> => {
      try {
        const republished = resume
          ? await republishPending(store, ctx.bus, scan, {
              ...(optOut ? { optOut } : {}),
              ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
              onOptedOut: (domain, entry) =>
                log.warn("opted out since seeded; not scanned", { domain, entry }),
            })
          : 0;
        seed = await seedDomains(readLists(files, process.stdin), {
          store,
          bus: ctx.bus,
          ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
          scan,
          signal: ctx.signal,
          ...(optOut ? { optOut } : {}),
          onSkip: (l, why) => {
            if (why.kind !== "duplicate")
              log.warn("skipped", { source: l.source, line: l.line, text: l.text.slice(0, 100), ...why });
          },
          onBatch: (s) => {
            seed = s;
          },
        });
        inputDone = !ctx.signal.aborted;
        log.info("seeded", { ...seed, republished });
        if (!c.follow) return 0;
        const r = await follower.run();
        const at = new Date().toISOString();
        if (r.state === "interrupted") {
          await store.markInterrupted(scan, at).catch(() => {});
          log.info("interrupted; resume with DANESWEEP_SCAN_ID", { ...r.counts });
          return 130;
        }
        if (r.state === "stuck") {
          await store.finishScan(scan, at, "failed");
          log.error("scan failed: domains cannot be judged", {
            deadLetters,
            pending: r.stuck.slice(0, 10).map((s) => s.domain),
          });
          return 1;
        }
        await store.finishScan(scan, at, "finished");
        log.info("scan finished", { ...r.counts });
        try {
          for (const x of await recordChanges(store, at)) log.info("change events recorded", { ...x });
        } catch (e) {
          log.error("change events not recorded; the next finished scan records them", {
            error: errorFields(e),
          });
          return 1;
        }
        return 0;
      } catch (e) {
        if (ctx.signal.aborted) {
          await store.markInterrupted(scan, new Date().toISOString()).catch(() => {});
          return 130;
        }
        log.error("seeding failed", { error: errorFields(e) });
        return 1;
      } finally {
        for (const w of watchers) await w.close();
      }
    })();

    counterOf(ctx.metrics, "danesweep_seed_read_total", "Input lines read", () => seed.read);
    counterOf(ctx.metrics, "danesweep_seed_seeded_total", "Domains seeded", () => seed.seeded);
    gaugeOf(ctx.metrics, "danesweep_scan_judged", "Domains of the scan judged", () => follower.counts.judged);
    gaugeOf(ctx.metrics, "danesweep_scan_domains", "Domains of the scan", () => follower.counts.total);
    return {
      done,
    };
  },
};
