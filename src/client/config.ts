/**
 * seedbank's home folder and config file: where the DHT's state lives between runs, and the
 * settings a user would otherwise repeat on every command line (DHT bootstrap nodes, LSD).
 *
 * The home is `$SEEDBANK_HOME`, else `$XDG_CONFIG_HOME/seedbank`, else `~/.config/seedbank`. The
 * config file is `<home>/config.json`, or the file given with `--config`. Flags win over the file.
 * A config file that is not valid is an error of one line naming the file and the key, never
 * ignored: a typo in `"bootstrap"` must not silently leave a user off (or on) the public DHT.
 *
 *   {
 *     "dht": { "enabled": true, "bootstrap": ["10.0.0.5:6881"], "enforceNodeId": false, "saveState": true },
 *     "lsd": { "interface": "eth0" }
 *   }
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';

export interface SeedbankConfig {
  dht: {
    /** Run a DHT node. @default true */
    enabled: boolean;
    /** "HOST:PORT" or "public". @default none */
    bootstrap: string[];
    /** BEP 42: keep nodes whose id does not match their address out of the table. @default false */
    enforceNodeId: boolean;
    /** Keep the node id and routing table in `<home>/dht-state.json` between runs. @default true */
    saveState: boolean;
  };
  lsd: {
    /** Interface for BEP 14 local service discovery. @default none (off) */
    interface: string | null;
  };
}

export const DEFAULT_CONFIG: SeedbankConfig = Object.freeze({
  dht: { enabled: true, bootstrap: [], enforceNodeId: false, saveState: true },
  lsd: { interface: null },
});

/** Larger config files are refused before they are read. */
const MAX_CONFIG_BYTES = 1 << 20;

export function seedbankHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SEEDBANK_HOME']) return path.resolve(env['SEEDBANK_HOME']);
  const xdg = env['XDG_CONFIG_HOME'];
  return path.join(xdg ? path.resolve(xdg) : path.join(os.homedir(), '.config'), 'seedbank');
}

/**
 * Reads the config: `file` if given (it must exist), else `<home>/config.json` if it exists, else
 * the defaults. Throws a one-line UsageError for anything malformed.
 */
export async function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<SeedbankConfig> {
  const where = file ?? path.join(seedbankHome(env), 'config.json');
  let text: string;
  try {
    const fh = await open(where, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new UsageError(`config ${where} is not a file`);
      if (st.size > MAX_CONFIG_BYTES) throw new UsageError(`config ${where} is ${st.size} bytes; the most is ${MAX_CONFIG_BYTES}`);
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && file === undefined) return structuredClone(DEFAULT_CONFIG);
    throw new UsageError(`cannot read config ${where}: ${code ?? String(e)}`);
  }
  return parseConfig(text, where);
}

/** Validates a config file's text; `where` names it in errors. */
export function parseConfig(text: string, where: string): SeedbankConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`config ${where} is not JSON: ${(e as Error).message}`);
  }
  const bad = (key: string, what: string) => new UsageError(`config ${where}: ${key} ${what}`);
  const obj = (v: unknown, key: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(key, 'must be an object');
    return v as Record<string, unknown>;
  };
  const only = (o: Record<string, unknown>, key: string, allowed: string[]) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`${key ? `${key}.` : ''}${k}`, `is not a setting (known: ${allowed.join(', ')})`);
  };
  const bool = (v: unknown, key: string, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw bad(key, 'must be true or false');
    return v;
  };
  const root = obj(json, 'the top level');
  only(root, '', ['dht', 'lsd']);
  const out = structuredClone(DEFAULT_CONFIG);
  if (root['dht'] !== undefined) {
    const d = obj(root['dht'], 'dht');
    only(d, 'dht', ['enabled', 'bootstrap', 'enforceNodeId', 'saveState']);
    out.dht.enabled = bool(d['enabled'], 'dht.enabled', true);
    out.dht.enforceNodeId = bool(d['enforceNodeId'], 'dht.enforceNodeId', false);
    out.dht.saveState = bool(d['saveState'], 'dht.saveState', true);
    if (d['bootstrap'] !== undefined) {
      const b = d['bootstrap'];
      if (!Array.isArray(b) || b.some((x) => typeof x !== 'string') || b.length > 64) throw bad('dht.bootstrap', 'must be a list of at most 64 "HOST:PORT" (or "public") strings');
      out.dht.bootstrap = b as string[];
    }
  }
  if (root['lsd'] !== undefined) {
    const l = obj(root['lsd'], 'lsd');
    only(l, 'lsd', ['interface']);
    const i = l['interface'];
    if (i !== undefined && i !== null && (typeof i !== 'string' || i.length === 0 || i.length > 64)) throw bad('lsd.interface', 'must be an interface name such as "eth0", or null');
    out.lsd.interface = (i as string | null | undefined) ?? null;
  }
  return out;
}

/**
 * The DHT state file of this home, if this process may use it. Two seedbank processes on one
 * machine must not share a node id (other nodes keep one id per address and would mix them up),
 * so the first takes a lock file with its pid; others run with a fresh id and save nothing.
 * A lock left by a process that is gone is taken over. Returns the path and a release function.
 */
export async function claimDhtState(home: string): Promise<{ path: string; release: () => Promise<void> } | null> {
  const file = path.join(home, 'dht-state.json');
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(home, { recursive: true, mode: 0o700 });
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return { path: file, release: () => unlink(lock).catch(() => {}) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null; // read-only home: run without state
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return null;
      await unlink(lock).catch(() => {});
    }
  }
  return null;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
