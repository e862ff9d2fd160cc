/**
 * The HTTP origin for bench/origin, in a process of its own so that serving (and its cap's timers)
 * does not share an event loop with any client: `startOrigin` on 127.0.0.1 serving <root>.
 *
 * Protocol (JSON lines): prints `{"event":"ready","port":P,"url":U}` once it listens; every line on
 * stdin (a sequence number) asks for its counters, answered with `{"event":"stats","seq":...}`
 * (egress so far); when
 * stdin closes it prints `{"event":"final",...}`, closes and exits. --timeout bounds its life.
 *
 * usage: node dist/bench/origin/http_origin.js <root> [--rate BYTES_PER_SEC] [--timeout 1800]
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startOrigin } from '../../src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rate: { type: 'string', default: '0' }, timeout: { type: 'string', default: '1800' } },
});
const origin = await startOrigin({ root: positionals[0]!, host: '127.0.0.1', rateBytesPerSec: Number(values.rate) });

const counters = () => {
  const cpu = process.cpuUsage();
  const st = origin.stats;
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, requests: st.requests, bytesSent: st.bytesSent, rangeRequests: st.rangeRequests, byPath: Object.fromEntries(st.byPath) };
};
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
say({ event: 'ready', port: origin.port, url: origin.url });

let stopping = false;
const stop = async (why: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  say({ event: 'final', why, ...counters() });
  await Promise.race([origin.close(), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(0);
};
setTimeout(() => void stop('timeout'), Number(values.timeout) * 1000).unref();
const lines = createInterface({ input: process.stdin });
lines.on('line', (seq) => say({ event: 'stats', seq: seq.trim(), ...counters() }));
lines.on('close', () => void stop('stdin closed'));
process.once('SIGTERM', () => void stop('SIGTERM'));
