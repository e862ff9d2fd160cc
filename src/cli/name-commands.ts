/**
 * `seedbank keygen`: an ed25519 key for signing dataset names (BEP 44 mutable items, BEP 46).
 * The key file is written with mode 0600 and never over an existing file unless asked: losing a
 * name's key loses the name, and a key file another user can read lets them publish under it.
 */
import { open } from 'node:fs/promises';
import { encodeKeyFile, generateKeys } from '../codec/bep44.js';
import { UsageError } from '../index.js';

export interface KeygenFlags {
  output?: string;
  force?: boolean;
  json?: boolean;
}

export async function runKeygen(f: KeygenFlags): Promise<number> {
  if (!f.output) throw new UsageError('keygen needs -o KEYFILE (where to write the new key)');
  const keys = generateKeys();
  let fh;
  try {
    // 'wx': fail if the file exists; the mode applies when the file is created.
    fh = await open(f.output, f.force ? 'w' : 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${f.output} exists; keygen does not overwrite a key (pass --force to replace it)`);
    throw e;
  }
  try {
    await fh.chmod(0o600); // --force over an existing file keeps its old mode otherwise
    await fh.writeFile(encodeKeyFile(keys));
  } finally {
    await fh.close();
  }
  const publicKey = keys.publicKey.toString('hex');
  if (f.json) process.stdout.write(`${JSON.stringify({ file: f.output, publicKey, name: `magnet:?xs=urn:btpk:${publicKey}` })}\n`);
  else process.stdout.write(`wrote ${f.output} (keep it secret: it signs your dataset names)\npublic key ${publicKey}\nnames look like magnet:?xs=urn:btpk:${publicKey}&s=<name>\n`);
  return 0;
}
