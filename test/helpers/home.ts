/**
 * Every seedbank process a test starts keeps its home (DHT state, config) in a folder of this test
 * process, never in the user's ~/.config: tests must not read a developer's config or leave state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

if (!process.env['SEEDBANK_HOME']) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'seedbank-home-'));
  process.env['SEEDBANK_HOME'] = home;
  process.on('exit', () => rmSync(home, { recursive: true, force: true }));
}

export const TEST_HOME = process.env['SEEDBANK_HOME'];
