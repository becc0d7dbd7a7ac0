/**
 * CPU time from Linux's /proc, for the benchmarks: of one process, of this
 * process's children that ended, of every live process by role, and of the
 * machine. A benchmark takes a snapshot before and after what it measures and
 * prints the differences: where a run's CPU went, and how busy the cores were
 * (a second instance of a service cannot help on a machine already busy).
 * Values are CPU milliseconds (user + system). Elsewhere than Linux, every
 * reader gives NaN or nothing.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks a second, the unit of /proc's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * The fields of a /proc/PID/stat (or /proc/PID/task/TID/stat) line after the
 * command name, which is in parentheses and may hold spaces: index 0 is the
 * state (field 3 of proc(5)), so field N is at index N - 3.
 */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The command name of a stat line (what is between its parentheses). */
export function statName(stat: string): string {
  return stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
}

/**
 * utime + stime (fields 14 and 15) of a stat line, ms; with `endedChildren`,
 * plus cutime + cstime (16 and 17): the CPU of its children that ended and
 * were waited for (PostgreSQL's postmaster holds that of its ended backends).
 */
export function statCpuMs(stat: string, endedChildren = false): number {
  const f = statFields(stat);
  const ticks = Number(f[11]) + Number(f[12]) + (endedChildren ? Number(f[13]) + Number(f[14]) : 0);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** A process's CPU so far, ms; NaN when it is gone (or there is no /proc). */
export function pidCpuMs(pid: number): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/**
 * The CPU so far of a process's threads (`"self"`: this process's), summed
 * by thread name (/proc/PID/task/TID/comm, at most 15 characters: "MainThread",
 * "V8Worker", a JVM's "C2 CompilerThre"), ms; undefined when the process is
 * gone (or there is no /proc). A thread that ended is no longer counted.
 */
export function threadCpuByName(pid: number | "self"): Record<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = statName(stat);
      out[name] = (out[name] ?? 0) + statCpuMs(stat);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The CPU so far of a process's threads whose name matches `name` (threadCpuByName), ms; NaN when it is gone. */
export function threadsCpuMs(pid: number, name: RegExp): number {
  const byName = threadCpuByName(pid);
  if (!byName) return Number.NaN;
  let ms = 0;
  for (const [n, v] of Object.entries(byName)) if (name.test(n)) ms += v;
  return ms;
}

/** CPU of this process's children that ended and were waited for (cutime + cstime), ms. */
export function endedChildrenCpuMs(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    return statCpuMs(stat, true) - statCpuMs(stat);
  } catch {
    return Number.NaN;
  }
}

/** The machine's CPU so far, over all its cores (/proc/stat's first line): busy and all, ms. */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busyMs: ((total - idle) * 1000) / CLOCK_TICKS, totalMs: (total * 1000) / CLOCK_TICKS };
  } catch {
    return { busyMs: Number.NaN, totalMs: Number.NaN };
  }
}

/**
 * The CPU so far of every live process that `role` names from its command
 * line (arguments joined by spaces), its ended children's included, summed by
 * role, ms: a process that ends between two snapshots moves its CPU into its
 * parent's, so a role whose processes come and go under a parent of the
 * same role (PostgreSQL's backends) is counted whole. Processes it names
 * undefined are left out; one that ends while being read is skipped.
 */
export function cpuByRole(role: (cmdline: string) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      const r = role(cmd);
      if (r === undefined) continue;
      const ms = statCpuMs(readFileSync(`/proc/${pid}/stat`, "utf8"), true);
      out.set(r, (out.get(r) ?? 0) + ms);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** CPU so far, for cpuSince: the machine's, each role's (cpuByRole), and this process's ended children's. */
export interface CpuSnapshot {
  at: number;
  machine: { busyMs: number; totalMs: number };
  roles: Map<string, number>;
  endedChildren: number;
}

export function cpuSnapshot(role: (cmdline: string) => string | undefined): CpuSnapshot {
  return {
    at: performance.now(),
    machine: machineCpuMs(),
    roles: cpuByRole(role),
    endedChildren: endedChildrenCpuMs(),
  };
}

/**
 * What the CPU did between two snapshots: how many cores were busy (the
 * machine's CPU over the wall time), each role's CPU ms (a role's processes
 * that ended in between are not counted), and the CPU ms of this process's
 * children that ended in between (a contender it ran and waited for).
 */
export function cpuSince(
  before: CpuSnapshot,
  after: CpuSnapshot,
): { coresBusy: number; roleMs: Map<string, number>; endedChildrenMs: number } {
  const roleMs = new Map<string, number>();
  for (const [role, ms] of after.roles) roleMs.set(role, ms - (before.roles.get(role) ?? 0));
  return {
    coresBusy: (after.machine.busyMs - before.machine.busyMs) / (after.at - before.at),
    roleMs,
    endedChildrenMs: after.endedChildren - before.endedChildren,
  };
}

/**
 * The role of a process of the machine's shared services, from its command
 * line: the ones the testbed runs (Unbound, Knot, the test SMTP servers) and
 * the scripts/services ones (Kafka, PostgreSQL); undefined for any other.
 */
export function serviceRole(cmd: string): string | undefined {
  if (cmd.includes("kafka.Kafka")) return "Kafka";
  if (/(^|\/)postgres(:| |$)/.test(cmd)) return "PostgreSQL";
  if (/(^|\/)unbound /.test(cmd)) return "Unbound";
  if (/(^|\/)knotd /.test(cmd)) return "Knot";
  if (cmd.includes("smtp-servers")) return "test SMTP servers";
  return undefined;
}
