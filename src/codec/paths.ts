/**
 * File names from torrents are hostile input. This module decides which names seedbank will ever
 * create on disk, and joins them under a root without escaping it.
 *
 * Pure apart from `path` string handling: no file system access.
 *
 * Two rule sets (docs/adr/002-untrusted-file-names.md):
 * - everywhere: no empty, `.` or `..` components, no `/` or `\` (a separator on some system), no NUL
 *   or control characters (terminal escapes in names printed by `info`), no overlong names;
 * - on Windows (or when `windows: true` is asked for): also no `<>:"|?*`, no trailing dot or space,
 *   no device names (CON, NUL, COM1...), which NTFS would read as something other than a file.
 *   These are legal on Linux and common in datasets (timestamps with `:`), so they are not refused
 *   there.
 */
import path from 'node:path';
import { UnsafePathError } from '../errors.js';

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
// eslint-disable-next-line no-control-regex
const FORBIDDEN_EVERYWHERE = /[\u0000-\u001f\u007f/\\]/;
const FORBIDDEN_ON_WINDOWS = /[<>:"|?*]/;
/** Longest component in bytes on ext4, XFS, APFS and (in UTF-16 units) NTFS. */
export const MAX_COMPONENT_BYTES = 255;
/** Longest relative path in bytes that we accept (Linux PATH_MAX is 4096 including the root). */
export const MAX_PATH_BYTES = 3072;

export interface PathRules {
  /** Apply the Windows rules too. @default true on Windows */
  windows: boolean;
}

export const DEFAULT_PATH_RULES: PathRules = { windows: process.platform === 'win32' };

/** Throws `UnsafePathError` unless `name` is safe as one path component. */
export function checkComponent(name: string, context = 'file name', rules: PathRules = DEFAULT_PATH_RULES): void {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  const fail = (why: string): never => {
    throw new UnsafePathError(`unsafe ${context} ${shown}: ${why}`);
  };
  if (name.length === 0) fail('empty path component');
  if (name === '.' || name === '..') fail('relative path component');
  if (name.includes('\0')) fail('contains NUL');
  if (FORBIDDEN_EVERYWHERE.test(name)) fail('contains a path separator or a control character');
  if (rules.windows) {
    if (FORBIDDEN_ON_WINDOWS.test(name)) fail('contains one of <>:"|?* (not allowed on Windows)');
    if (name.endsWith('.') || name.endsWith(' ')) fail('ends with a dot or a space (not allowed on Windows)');
    if (WINDOWS_RESERVED.test(name)) fail('is a reserved device name on Windows');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_COMPONENT_BYTES) fail(`longer than ${MAX_COMPONENT_BYTES} bytes`);
}

/** Checks every component and the total length of a relative path. */
export function checkRelativePath(components: readonly string[], context = 'file path', rules: PathRules = DEFAULT_PATH_RULES): void {
  if (components.length === 0) throw new UnsafePathError(`unsafe ${context}: empty path`);
  for (const c of components) checkComponent(c, context, rules);
  const bytes = components.reduce((n, c) => n + Buffer.byteLength(c, 'utf8') + 1, 0);
  if (bytes > MAX_PATH_BYTES) throw new UnsafePathError(`unsafe ${context}: path longer than ${MAX_PATH_BYTES} bytes`);
}

/**
 * Joins checked components under `root` and proves the result stays inside it. The check is
 * redundant with `checkRelativePath` by design: two independent guards against traversal.
 */
export function safeJoin(root: string, components: readonly string[]): string {
  checkRelativePath(components);
  const base = path.resolve(root);
  const full = path.resolve(base, ...components);
  const rel = path.relative(base, full);
  // '..data' is a legal name; only '..' itself or a '../' prefix means we left the root.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new UnsafePathError(`unsafe file path ${JSON.stringify(components.join('/'))}: leaves ${base}`);
  }
  return full;
}
