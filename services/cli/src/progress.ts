/**
 * Progress on stderr while a scan runs, only when stderr is a terminal:
 * domains seeded / resolved / probed / judged, rate and ETA (or another
 * command's line, given its own renderer: `danesweep rejudge`). The clock is
 * injected so the rendering is testable.
 * The ETA is the domains seeded and not judged yet at the current rate, and
 * never less than 0: a resumed scan counts among the judged the verdicts
 * stored before it was interrupted, which its seeded count does not hold.
 */
export interface ProgressCounts {
  seeded: number;
  /** Domains resolved, when this process knows (the embedded scan does; a follower of a deployment does not). */
  resolved?: number;
  probesDone?: number;
  judged: number;
  /** True once every input line has been read. */
  inputDone: boolean;
}

export function renderProgress(c: ProgressCounts, elapsedMs: number): string {
  const secs = Math.max(elapsedMs / 1000, 0.001);
  const rate = c.judged / secs;
  const left = Math.max(0, c.seeded - c.judged);
  const eta = c.inputDone && rate > 0 ? `${formatDuration((left / rate) * 1000)}` : "?";
  return (
    `seeded ${c.seeded}${c.inputDone ? "" : "+"}  ` +
    (c.resolved !== undefined ? `resolved ${c.resolved}  ` : "") +
    (c.probesDone !== undefined ? `probed ${c.probesDone}  ` : "") +
    `judged ${c.judged}  ` +
    `${rate.toFixed(1)}/s  ETA ${eta}`
  );
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The line, redrawn every 250 ms while started; `render` turns what `read` gives into the text (default: a scan's). */
export class ProgressLine<C = ProgressCounts> {
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly now: () => number;
  private readonly read: () => C;
  private readonly render: (c: C, elapsedMs: number) => string;

  constructor(
    stream: NodeJS.WriteStream,
    read: () => C,
    now: () => number,
    render: (c: C, elapsedMs: number) => string = renderProgress as unknown as (c: C, ms: number) => string,
  ) {
    this.stream = stream;
    this.read = read;
    this.now = now;
    this.render = render;
    this.started = now();
  }
  start(): void {
    if (!this.stream.isTTY) return;
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }
  private draw(): void {
    this.stream.write(`\r\x1b[2K${this.render(this.read(), this.now() - this.started)}`);
  }
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write("\r\x1b[2K");
  }
}
