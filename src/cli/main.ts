#!/usr/bin/env node
/**
 * The `seedbank` command. Parses arguments (commander, see docs/adr/001-dependencies.md), runs one
 * command, and turns every expected failure into one line on stderr and a non-zero exit status:
 * 1 when the command ran and found a problem (e.g. verify), 2 for bad input or usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { SeedbankError } from '../errors.js';
import { VERSION } from '../version.js';
import { DEMO_HELP } from './demo-help.js';

// Each command's module is loaded when it runs: `create` and `verify` do not load the swarm
// engine, the DHT or LSD (a faster start, and fewer files open at once under a low ulimit).
const commands = () => import('./commands.js');

const collect = (v: string, acc: string[]): string[] => [...acc, v];

function program(): Command {
  const p = new Command('seedbank')
    .description('A BitTorrent file system for AI datasets')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  p.command('create')
    .description('create a .torrent (hybrid v1 + v2 by default) for a file or folder')
    .argument('<path>', 'file or folder to share')
    .option('-o, --output <file>', 'where to write the torrent (default: <name>.torrent)')
    .addOption(new Option('--v1', 'BitTorrent v1 only (SHA-1)').conflicts(['v2', 'hybrid']))
    .addOption(new Option('--v2', 'BitTorrent v2 only (BEP 52, SHA-256 merkle trees)').conflicts(['hybrid']))
    .option('--hybrid', 'v1 + v2 in one torrent (default)')
    .option('--piece-length <bytes>', 'piece length, a power of two of at least 16KiB (default: from data size)')
    .option('--tracker <url>', 'tracker URL, repeatable (each in its own tier)', collect, [])
    .option('--webseed <url>', 'BEP 19 web seed URL, repeatable', collect, [])
    .option('--private', 'BEP 27 private torrent (no DHT, PEX or LSD)')
    .option('--name <name>', 'torrent name (default: the file or folder name)')
    .option('--comment <text>', 'comment stored in the torrent')
    .option('--no-date', 'omit the creation date (byte-identical output for identical input)')
    .option('--json', 'print a JSON description of the torrent')
    .action(async (input: string, flags) => {
      process.exitCode = await (await commands()).runCreate(input, flags);
    });

  p.command('info')
    .description('show the name, files, pieces roots, info hashes and magnet link of a torrent')
    .argument('<torrent>', '.torrent file or magnet link')
    .option('--json', 'print JSON')
    .action(async (source: string, flags) => {
      process.exitCode = await (await commands()).runInfo(source, flags);
    });

  p.command('verify')
    .description('check data on disk against a torrent; exit 0 only if everything is complete and correct')
    .argument('<torrent>', '.torrent file')
    .argument('<data-dir>', 'folder that holds the content under the torrent name (the save path)')
    .option('--json', 'print a JSON report per file and piece')
    .action(async (torrent: string, dataDir: string, flags) => {
      process.exitCode = await (await commands()).runVerify(torrent, dataDir, flags);
    });

  p.command('seed')
    .description('seed a torrent from data on disk until stopped (SIGINT or SIGTERM stop it cleanly)')
    .argument('<torrent>', '.torrent file')
    .argument('<data-dir>', 'folder that holds the content under the torrent name')
    .option('--port <n>', 'TCP port to listen on (default: any free port)')
    .option('--peer <host:port>', 'peer to connect to, repeatable', collect, [])
    .option('--tracker <url>', 'announce to this tracker too, repeatable', collect, [])
    .option('--upload-rate <bytes>', 'upload limit per second, e.g. 10MiB (default: none)')
    .option('--name-key <KEYFILE>', 'keep a dataset name (BEP 46) alive while seeding: store it again before DHT nodes drop it, and publish this torrent if the name has no version yet')
    .option('--name-salt <name>', 'the name under --name-key (default: none)')
    .option('--from-origin', "seed data that is only in the torrent's web seeds: fetch each piece from the origin the first time a peer asks for it (data-dir caches it)")
    .option('--webseed <url>', 'HTTP origin (BEP 19 web seed) besides the torrent\'s url-list, repeatable (with --from-origin)', collect, [])
    .option('--dht-bootstrap <host:port>', 'DHT node to join through (repeatable; "public" for the public DHT\'s routers); without it the DHT talks only to nodes that peers name', collect, [])
    .option('--no-dht', 'run no DHT node at all')
    .option('--config <file>', 'config file (default: $SEEDBANK_HOME/config.json, ~/.config/seedbank/config.json)')
    .option('--lsd <iface>', 'local service discovery (BEP 14) on this interface, e.g. eth0: announce the torrent to the local link by multicast and use the peers found there (never for private torrents); off by default')
    .option('--json', 'print JSON lines')
    .action(async (torrent: string, dataDir: string, flags) => {
      process.exitCode = await (await import('./swarm-commands.js')).runSeed(torrent, dataDir, flags);
    });

  p.command('get')
    .description('download a torrent; exit 0 only when every selected piece is verified')
    .argument('<torrent>', '.torrent file or magnet link')
    .requiredOption('-o, --output <dir>', 'folder to download into (the content goes in <dir>/<name>)')
    .option('--peer <host:port>', 'peer to connect to, repeatable', collect, [])
    .option('--tracker <url>', 'announce to this tracker too, repeatable', collect, [])
    .option('--select <glob>', 'download only files matching this glob, repeatable', collect, [])
    .option('--seed', 'keep seeding after the download completes, until stopped')
    .option('--port <n>', 'TCP port to listen on (default: any free port)')
    .option('--upload-rate <bytes>', 'upload limit per second, e.g. 10MiB (default: none)')
    .option('--download-rate <bytes>', 'download limit per second, e.g. 50MiB (default: none)')
    .option('--webseed <url>', 'HTTP origin (BEP 19 web seed) to fetch from too, repeatable', collect, [])
    .option('--origin-policy <policy>', 'when to use origins: fallback | balanced | origin-first', 'balanced')
    .option('--origin-rate <bytes>', 'limit for all origins together per second, e.g. 100MiB (default: none)')
    .option('--origin-connections <n>', 'parallel range requests per origin', '4')
    .option('--dht-bootstrap <host:port>', 'DHT node to join through (repeatable; "public" for the public DHT\'s routers); without it the DHT talks only to nodes that peers name', collect, [])
    .option('--no-dht', 'run no DHT node at all')
    .option('--config <file>', 'config file (default: $SEEDBANK_HOME/config.json, ~/.config/seedbank/config.json)')
    .option('--lsd <iface>', 'local service discovery (BEP 14) on this interface, e.g. eth0: announce the torrent to the local link by multicast and use the peers found there (never for private torrents); off by default')
    .option('--json', 'print one JSON object at the end')
    .action(async (torrent: string, flags) => {
      process.exitCode = await (await import('./swarm-commands.js')).runGet(torrent, flags);
    });

  p.command('tracker')
    .description('run a BitTorrent tracker (HTTP and UDP on one port) until stopped')
    .option('--port <n>', 'port for HTTP and UDP', '6969')
    .option('--host <addr>', 'address to listen on (default: all)')
    .option('--json', 'print a JSON line with the announce URLs')
    .action(async (flags) => {
      process.exitCode = await (await import('./tracker-command.js')).runTracker(flags);
    });

  p.command('keygen')
    .description('write a new ed25519 key for signing dataset names (BEP 44/46); the file is created with mode 0600')
    .option('-o, --output <KEYFILE>', 'where to write the key (required; never overwritten without --force)')
    .option('--force', 'replace an existing key file')
    .option('--json', 'print the file, public key and name prefix as JSON')
    .action(async (flags) => {
      process.exitCode = await (await import('./name-commands.js')).runKeygen(flags);
    });

  const name = p.command('name').description('dataset names in the DHT (BEP 46): a key and a salt that point at the current version');
  name
    .command('publish')
    .description('point the name (--key, --salt) at this torrent: the next version, signed, stored in the DHT')
    .argument('<torrent>', '.torrent file of the version to publish')
    .option('--key <KEYFILE>', 'the key file from seedbank keygen (required)')
    .option('--salt <name>', 'the name under this key (at most 64 bytes)', '')
    .option('--dht-bootstrap <host:port>', 'DHT node to publish through (repeatable; "public" for the public DHT)', collect, [])
    .option('--config <file>', 'config file (default: $SEEDBANK_HOME/config.json, ~/.config/seedbank/config.json)')
    .option('--json', 'print the name, version and info hash as JSON')
    .action(async (torrent: string, flags) => {
      process.exitCode = await (await import('./name-commands.js')).runNamePublish(torrent, flags);
    });

  p.command('dht')
    .description('the DHT node (BEP 5, 32, 42)')
    .command('status')
    .description('join the DHT (bootstrap nodes, the config file or the saved routing table), run a few lookups, and show the routing table per address family')
    .option('--dht-bootstrap <host:port>', 'DHT node to join through (repeatable; "public" for the public DHT\'s routers)', collect, [])
    .option('--lookups <n>', 'random lookups to run and report', '3')
    .option('--config <file>', 'config file (default: $SEEDBANK_HOME/config.json, ~/.config/seedbank/config.json)')
    .option('--json', 'print JSON')
    .action(async (flags) => {
      process.exitCode = await (await import('./dht-command.js')).runDhtStatus(flags);
    });

  p.command('demo')
    .description('distribute a sample dataset from a capped local HTTP origin to several seedbank nodes, and report what that saved (no set-up needed)')
    .option('--size-mb <n>', 'size of the sample dataset in MiB', '256')
    .option('--nodes <n>', 'seedbank nodes that each download the dataset', '6')
    .option('--origin-rate <MiB/s>', "the origin's egress cap in MiB/s", '64')
    .option('--keep', 'keep the temporary folder and print where it is')
    .addHelpText('after', DEMO_HELP)
    .action(async (flags) => {
      process.exitCode = await (await import('./demo.js')).runDemo(flags);
    });
  return p;
}

// A reader that goes away (`seedbank info x | head`) is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message; --help and --version are not errors.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof SeedbankError) {
      process.stderr.write(`seedbank: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
      // The system said no (permission, I/O error, full disk): the user's to fix, one line.
      process.stderr.write(`seedbank: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`seedbank: unexpected error: ${err.message}\n`);
    if (process.env['SEEDBANK_DEBUG']) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 70;
  }
}

await main();
