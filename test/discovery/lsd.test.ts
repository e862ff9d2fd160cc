/**
 * The LSD service's announce and receive logic, on a simulated link (every packet reaches every
 * service, the sender too, as multicast with loopback does) and a simulated clock: no sockets.
 * The real socket is exercised in test/netns/lsd.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLsdAnnounce, encodeLsdAnnounce } from '../../src/codec/lsd.js';
import { LSD_ANNOUNCE_INTERVAL_MS, LSD_MIN_INTERVAL_MS, LsdService } from '../../src/discovery/lsd.js';
import { lsdInterface, lsdInterfaceAddress, startLsd } from '../../src/discovery/lsd-sockets.js';
import { UsageError } from '../../src/errors.js';
import { SimClock, type SimEvent, seededRandom } from '../../src/sim/clock.js';

const H1 = Buffer.alloc(20, 1);
const H2 = Buffer.alloc(20, 2);
const H3 = Buffer.alloc(20, 3);

interface Sent {
  at: number;
  from: string;
  hashes: string[];
}

/** A link of services on one clock; packets arrive 1 ms after they are sent. */
class Link {
  readonly clock = new SimClock();
  readonly sent: Sent[] = [];
  readonly services = new Map<string, LsdService>();
  closed = 0;

  join(host: string, port: number, seed = 1): LsdService {
    const s = new LsdService({
      port,
      random: seededRandom(seed),
      timers: { now: this.clock.now, setTimeout: (fn, ms) => this.clock.after(ms, fn), clearTimeout: (h) => this.clock.cancel(h as SimEvent) },
      transport: {
        send: (packet) => {
          this.sent.push({ at: this.clock.now(), from: host, hashes: decodeLsdAnnounce(packet).infoHashes.map((h) => h.toString('hex')) });
          this.clock.after(1, () => {
            for (const svc of this.services.values()) svc.receive(packet, host);
          });
        },
        close: async () => {
          this.closed++;
        },
      },
    });
    this.services.set(host, s);
    return s;
  }

  runUntil(ms: number): void {
    this.clock.run({ untilMs: ms, maxEvents: 100_000 });
  }

  sentBy(host: string): Sent[] {
    return this.sent.filter((s) => s.from === host);
  }
}

function collector(): { peers: string[]; onPeer: (h: string, p: number) => void } {
  const peers: string[] = [];
  return { peers, onPeer: (h, p) => peers.push(`${h}:${p}`) };
}

describe('LsdService', () => {
  it('announces a hash at once; a newcomer is heard at once and hears us within a minute', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881, 1);
    const b = link.join('10.0.0.2', 7000, 2);
    const pa = collector();
    const pb = collector();
    a.add(H1, pa.onPeer);
    link.runUntil(10_000);
    assert.equal(link.sentBy('10.0.0.1').length, 1);
    assert.equal(link.sentBy('10.0.0.1')[0]!.at, 0);
    b.add(H1, pb.onPeer);
    link.runUntil(10_001);
    assert.deepEqual(pa.peers, ['10.0.0.2:7000'], 'A hears B as soon as B announces');
    assert.deepEqual(pb.peers, []);
    link.runUntil(70_000);
    // A announced at 0, so its answer to the newcomer waits for the minute to end.
    const answer = link.sentBy('10.0.0.1')[1];
    assert.equal(answer?.at, LSD_MIN_INTERVAL_MS);
    assert.deepEqual(pb.peers, ['10.0.0.1:6881']);
    // B had not heard A before A's answer, so it answers once too; then both know each other and
    // the exchange stops until the periodic rounds (4.5 minutes at the earliest).
    link.runUntil(4.4 * 60_000);
    assert.equal(link.sentBy('10.0.0.1').length, 2);
    assert.equal(link.sentBy('10.0.0.2').length, 2);
    // Each heard its own packets looped back and dropped them by cookie, never as a peer.
    assert.ok(a.stats().ownDropped >= 2 && b.stats().ownDropped >= 1);
    assert.ok(!pa.peers.includes('10.0.0.1:6881'));
  });

  it('hashes added in one tick go out in one packet; more than 20 in as few packets as fit', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881);
    a.add(H1, () => {});
    a.add(H2, () => {});
    link.runUntil(1);
    assert.deepEqual(link.sent.map((s) => s.hashes.length), [2]);
    const many = Array.from({ length: 45 }, (_, i) => Buffer.alloc(20, 100 + i));
    for (const h of many) a.add(h, () => {});
    link.runUntil(LSD_MIN_INTERVAL_MS + 1);
    assert.deepEqual(link.sent.slice(1).map((s) => s.hashes.length), [20, 20, 5]);
    assert.ok(link.sent.slice(1).every((s) => s.at === LSD_MIN_INTERVAL_MS), 'the second round waited for the minute');
  });

  it('re-announces every 5 minutes, jittered, and never more than one round a minute', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881, 7);
    a.add(H1, () => {});
    // A new hash every 7 s for 10 minutes pushes for rounds far more often than once a minute.
    for (let t = 7_000, i = 0; t < 10 * 60_000; t += 7_000, i++) link.clock.at(t, () => a.add(Buffer.alloc(20, 50 + (i % 200)), () => {}));
    link.runUntil(60 * 60_000);
    const rounds = [...new Set(link.sent.map((s) => s.at))];
    for (let i = 1; i < rounds.length; i++) assert.ok(rounds[i]! - rounds[i - 1]! >= LSD_MIN_INTERVAL_MS, `rounds at ${rounds[i - 1]} and ${rounds[i]}`);
    // After the additions stop, only the periodic rounds remain: 4.5 to 5.5 minutes apart.
    const late = rounds.filter((t) => t > 11 * 60_000);
    assert.ok(late.length >= 8, `${late.length} rounds in the last 49 minutes`);
    for (let i = 1; i < late.length; i++) {
      const gap = late[i]! - late[i - 1]!;
      assert.ok(gap >= 0.9 * LSD_ANNOUNCE_INTERVAL_MS && gap <= 1.1 * LSD_ANNOUNCE_INTERVAL_MS, `gap ${gap}`);
    }
    // Every hash ever added was announced, and a periodic round carries all of them.
    const announced = new Set(link.sent.flatMap((s) => s.hashes));
    assert.deepEqual(new Set(a.hashes()), announced);
    const lastRound = link.sent.filter((s) => s.at === late.at(-1));
    assert.equal(lastRound.flatMap((s) => s.hashes).length, a.hashes().length);
  });

  it('a removed hash is no longer announced nor reported; the other registration of it stays', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881);
    const first = collector();
    const second = collector();
    const off1 = a.add(H1, first.onPeer);
    const off2 = a.add(H1, second.onPeer);
    const offH2 = a.add(H2, () => {});
    link.runUntil(1);
    off1();
    a.receive(encodeLsdAnnounce({ port: 9000, infoHashes: [H1] }), '10.0.0.9');
    assert.deepEqual(first.peers, []);
    assert.deepEqual(second.peers, ['10.0.0.9:9000']);
    off2();
    offH2();
    assert.deepEqual(a.hashes(), []);
    link.runUntil(30 * 60_000);
    assert.equal(link.sent.length, 1, 'nothing announced once every hash is removed');
  });

  it('limits each source to a few announces at once; others are still heard; garbage is counted, never thrown', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881);
    const p = collector();
    a.add(H1, p.onPeer);
    for (let i = 0; i < 100; i++) a.receive(encodeLsdAnnounce({ port: 1000 + i, infoHashes: [H1] }), '10.0.0.66');
    const fromFlooder = p.peers.filter((x) => x.startsWith('10.0.0.66:')).length;
    assert.ok(fromFlooder >= 1 && fromFlooder <= 5, `${fromFlooder} announces of the flooder got through`);
    a.receive(encodeLsdAnnounce({ port: 5000, infoHashes: [H1, H3] }), '10.0.0.7');
    assert.ok(p.peers.includes('10.0.0.7:5000'));
    // Junk from 200 sources, 10 a second (under the global limit, so every packet is parsed).
    const rand = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      link.clock.at(10_000 + i * 100, () => a.receive(junk, `10.1.${i}.1`));
    }
    link.clock.at(40_000, () => a.receive(Buffer.from('BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\n\r\n'), '10.2.0.1'));
    link.runUntil(40_000);
    const s = a.stats();
    assert.equal(s.malformed, 201);
    assert.ok(s.rateLimited >= 95);
    assert.equal(p.peers.filter((x) => x.startsWith('10.1.') || x.startsWith('10.2.')).length, 0);
  });

  it('an announce for hashes we do not have changes nothing', () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881);
    const p = collector();
    a.add(H1, p.onPeer);
    link.runUntil(1);
    a.receive(encodeLsdAnnounce({ port: 5000, infoHashes: [H2, H3] }), '10.0.0.7');
    link.runUntil(4 * 60_000);
    assert.deepEqual(p.peers, []);
    assert.equal(link.sent.length, 1);
  });

  it('close stops the timers, closes the transport once and ignores later packets', async () => {
    const link = new Link();
    const a = link.join('10.0.0.1', 6881);
    const p = collector();
    a.add(H1, p.onPeer);
    await Promise.all([a.close(), a.close()]);
    assert.equal(link.closed, 1);
    a.receive(encodeLsdAnnounce({ port: 5000, infoHashes: [H1] }), '10.0.0.7');
    link.runUntil(60 * 60_000);
    assert.equal(link.sent.length, 0, 'the round due at once was cancelled');
    assert.deepEqual(p.peers, []);
    assert.equal(link.clock.pending, 0);
  });
});

describe('lsdInterfaceAddress / startLsd', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
      { address: '10.9.8.7', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '02:00:00:00:00:01', internal: false, cidr: '10.9.8.7/24' },
    ],
    wg0: [{ address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '00:00:00:00:00:00', internal: false, cidr: 'fd00::2/64', scopeid: 0 }],
  };

  it("gives the interface's IPv4 address", () => {
    assert.equal(lsdInterfaceAddress('eth0', ifaces), '10.9.8.7');
    assert.equal(lsdInterfaceAddress('lo', ifaces), '127.0.0.1');
  });

  it('an unknown name or one without IPv4 is one usage line listing the interfaces there are', () => {
    const check = (text: string) => (e: unknown) => e instanceof UsageError && e.message === text;
    assert.throws(() => lsdInterfaceAddress('eth9', ifaces), check('--lsd eth9: no such interface (have: lo, eth0, wg0)'));
    assert.throws(() => lsdInterfaceAddress('wg0', ifaces), check('--lsd wg0: the interface has no IPv4 address (have: lo, eth0, wg0)'));
    assert.throws(() => lsdInterfaceAddress('__proto__', ifaces), UsageError);
  });

  it('an interface with only IPv6 is usable (BEP 14 over IPv6); one with no address is one line', () => {
    assert.deepEqual(lsdInterface('wg0', ifaces), { name: 'wg0', v4: null, v6: true });
    assert.deepEqual(lsdInterface('eth0', ifaces), { name: 'eth0', v4: '10.9.8.7', v6: true });
    assert.deepEqual(lsdInterface('lo', ifaces), { name: 'lo', v4: '127.0.0.1', v6: false });
    assert.throws(() => lsdInterface('tun0', { ...ifaces, tun0: [] }), (e: unknown) => e instanceof UsageError && e.message === '--lsd tun0: the interface has no address (have: lo, eth0, wg0, tun0)');
  });

  it('startLsd refuses an unknown interface before opening a socket', async () => {
    await assert.rejects(startLsd({ interface: 'no-such-if0', port: 6881 }), (e: unknown) => e instanceof UsageError && /^--lsd no-such-if0: no such interface \(have: .+\)$/.test(e.message));
  });
});
