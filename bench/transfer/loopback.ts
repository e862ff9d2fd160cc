/**
 * bench/transfer children listen on 127.0.0.1 only. `startSeeding` / `startDownload` take no
 * listening address (the session binds '::', every interface), so this wraps `Server#listen` in
 * the child process to turn that wildcard into loopback. Importing this module installs it.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  if (typeof args[0] === 'number' && (args[1] === '::' || args[1] === '0.0.0.0' || args[1] === undefined || typeof args[1] === 'function')) {
    args = typeof args[1] === 'function' || args[1] === undefined ? [args[0], '127.0.0.1', ...args.slice(1)] : [args[0], '127.0.0.1', ...args.slice(2)];
  } else if (typeof args[0] === 'object' && args[0] !== null && !('path' in args[0])) {
    const o = args[0] as net.ListenOptions;
    if (o.host === undefined || o.host === '::' || o.host === '0.0.0.0') args[0] = { ...o, host: '127.0.0.1' };
  }
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof listen;
