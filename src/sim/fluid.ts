/**
 * The fluid-model lower bound on distributing F bytes from one server to N clients (Kumar and
 * Ross; Mundinger et al.): no schedule can beat
 *
 *   T* = max(F / u_s, F / d_min, N·F / (u_s + Σ u_i))
 *
 * because the server must send every byte at least once (u_s), the slowest client must receive
 * every byte (d_min), and N copies must cross the sum of all upload links. The bound ignores
 * latency, piece granularity and protocol overhead, so real systems land above it; a ratio close
 * to 1 means a system uses nearly all the upload capacity there is.
 */
export interface FluidInput {
  /** Bytes to distribute. */
  fileBytes: number;
  /** Server (origin) upload, bytes/s. */
  serverUp: number;
  /** Each client's upload, bytes/s. */
  clientUp: readonly number[];
  /** Each client's download, bytes/s; Infinity (or 0, "no cap") where uncapped. */
  clientDown: readonly number[];
}

export interface FluidBound {
  seconds: number;
  /** Which term binds: 'server', 'download' or 'aggregate'. */
  binding: 'server' | 'download' | 'aggregate';
  terms: { server: number; download: number; aggregate: number };
}

export function fluidBound(x: FluidInput): FluidBound {
  const n = x.clientUp.length;
  const dMin = Math.min(...x.clientDown.map((d) => (d > 0 ? d : Infinity)));
  const terms = {
    server: x.fileBytes / x.serverUp,
    download: n === 0 || !Number.isFinite(dMin) ? 0 : x.fileBytes / dMin,
    aggregate: (n * x.fileBytes) / (x.serverUp + x.clientUp.reduce((a, b) => a + b, 0)),
  };
  const binding = (Object.keys(terms) as Array<keyof typeof terms>).reduce((a, b) => (terms[b] > terms[a] ? b : a));
  return { seconds: terms[binding], binding, terms };
}
