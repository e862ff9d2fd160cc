/** `seedbank demo --help`: how to size the demo (kept apart so the CLI can show it without loading the demo). */
export const DEMO_HELP = `
How to size it:
  --size-mb N      dataset size (default 256 MiB, in 8 train shards + 1 validation shard)
  --nodes N        seedbank nodes that each download the whole dataset (default 6)
  --origin-rate N  the origin's egress cap in MiB/s, like a bucket's per-client bandwidth (default 64)
A bucket-only distribution would take about nodes x size / origin-rate; seedbank pays the origin
for about one copy and lets the nodes serve each other. At the defaults the demo takes well under a
minute on a 2-core machine; it needs about nodes x size of free space in the temporary folder.`;
