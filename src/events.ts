/**
 * One typed event channel for everything that happens in a session. The CLI's progress output,
 * and later the HTTP API's event stream and the dashboard, all read these same events.
 * Names are namespaced `area:what`.
 */
import { EventEmitter } from 'node:events';

export interface SeedbankEvents {
  'torrent:piece-verified': { infoHash: string; index: number; source: string };
  'torrent:hash-failed': { infoHash: string; index: number; contributors: string[] };
  'torrent:done': { infoHash: string };
  'peer:connected': { infoHash: string; peer: string; client: string | null; outgoing: boolean };
  'peer:disconnected': { infoHash: string; peer: string; reason: string };
  'peer:banned': { infoHash: string; peer: string; reason: string };
  'origin:dropped': { infoHash: string; url: string; reason: string };
  'tracker:announced': { infoHash: string; url: string; peers: number };
  'tracker:error': { infoHash: string; url: string; message: string };
}

export type EventName = keyof SeedbankEvents;

export class EventChannel {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  on<K extends EventName>(name: K, fn: (e: SeedbankEvents[K]) => void): () => void {
    this.emitter.on(name, fn);
    return () => this.emitter.off(name, fn);
  }

  emit<K extends EventName>(name: K, e: SeedbankEvents[K]): void {
    this.emitter.emit(name, e);
  }
}
