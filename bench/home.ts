/**
 * The seedbank processes a benchmark starts keep their home (DHT state, config) in a temporary
 * folder removed at exit: a benchmark must neither read the user's config nor leave state behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

if (!process.env['SEEDBANK_HOME']) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'seedbank-bench-home-'));
  process.env['SEEDBANK_HOME'] = home;
  process.on('exit', () => rmSync(home, { recursive: true, force: true }));
}
