/**
 * Terminal output helpers: byte formatting, a progress display (a bar on a terminal, plain lines
 * in logs, nothing with --json on a pipe), and the one-line error printer.
 */
import cliProgress from 'cli-progress';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** Minimum time between two plain progress lines when stderr is not a terminal. */
const PLAIN_INTERVAL_MS = 2000;

/**
 * Progress on stderr: a bar with bytes, rate and ETA on a terminal; a plain line every two
 * seconds otherwise (logs, CI); nothing when `quiet`.
 */
export function startProgress(label: string, total: number, quiet: boolean): Progress {
  const started = Date.now();
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {doneH} / {totalH} | {rate} | ETA {etaH}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    const fields = (done: number) => {
      const secs = (Date.now() - started) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      return { doneH: formatBytes(done), totalH: formatBytes(total), rate: formatRate(rate), etaH: formatEta(rate > 0 ? (total - done) / rate : NaN) };
    };
    bar.start(Math.max(total, 1), 0, fields(0));
    return {
      update: (done) => bar.update(done, fields(done)),
      stop: () => bar.stop(),
    };
  }
  let last = started;
  return {
    update(done) {
      const now = Date.now();
      if (now - last < PLAIN_INTERVAL_MS) return;
      last = now;
      const secs = (now - started) / 1000;
      const rate = done / secs;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      process.stderr.write(`${label}: ${formatBytes(done)} / ${formatBytes(total)} (${pct}%), ${formatRate(rate)}, ETA ${formatEta((total - done) / rate)}\n`);
    },
    stop() {},
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
