/**
 * Where a socket's bytes go. Sockets we dial read into one process-wide buffer (Node's `onread`)
 * instead of a fresh 64 KiB Buffer per read: on a fast download those buffers were most of what
 * the garbage collector did, and fresh memory costs page faults. Other sockets (incoming ones,
 * and injected transports) fall back to 'data' events; consumers do not need to know which.
 *
 * The rule for consumers (`onBytes`): a chunk is valid only during the call. Copy what you keep.
 * (MessageDecoder already follows it: see its ownership rules.)
 */
import net, { type Socket } from 'node:net';

/** Large enough that one read drains what loopback or a fast LAN delivers at once. */
const READ_BUFFER_BYTES = 1024 * 1024;

let shared: Buffer | null = null;
const sinks = new WeakMap<Socket, ((chunk: Buffer) => void) | null>();

/** Counts for benchmarks (`--stats`): reads delivered through the shared buffer. */
export const sharedReadStats = { reads: 0, bytes: 0 };

/**
 * `net.connect` whose reads go into the shared buffer. The buffer is safe to share because Node
 * calls `callback` synchronously after each read, before it reads from any other socket.
 */
export function connectSharedBuffer(opts: { host: string; port: number }): Socket {
  shared ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const socket: Socket = net.connect({
    ...opts,
    onread: {
      buffer: shared,
      callback: (n: number, buf: Uint8Array): boolean => {
        sharedReadStats.reads++;
        sharedReadStats.bytes += n;
        sinks.get(socket)?.(Buffer.from(buf.buffer, buf.byteOffset, n));
        return true; // pausing is the consumer's call (socket.pause)
      },
    },
  });
  sinks.set(socket, null);
  return socket;
}

/**
 * Sends every chunk `socket` receives to `fn` (which must copy what it keeps) until the returned
 * function is called. One consumer at a time: the handshake, then the connection.
 */
export function onBytes(socket: Socket, fn: (chunk: Buffer) => void): () => void {
  if (sinks.has(socket)) {
    sinks.set(socket, fn);
    return () => {
      if (sinks.get(socket) === fn) sinks.set(socket, null);
    };
  }
  socket.on('data', fn);
  return () => socket.off('data', fn);
}
