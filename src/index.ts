/**
 * seedbank's public library API. The CLI (and later the HTTP API) use only what is exported here.
 */
export { SeedbankError, MetainfoError, UnsafePathError, UsageError } from './errors.js';
export { BencodeError, DEFAULT_BENCODE_LIMITS, bdecode, bdecodeWithSpans, bencode, type BValue, type BDict, type BEncodable, type DecodeLimits } from './codec/bencode.js';
export { type Metainfo, parseTorrent, parseInfo, MAX_PIECE_LENGTH } from './codec/metainfo.js';
export { buildTorrent, type BuildInput } from './codec/metainfo-build.js';
export { type Magnet, type MagnetInput, parseMagnet, createMagnet, magnetOf, isMagnet } from './codec/magnet.js';
export { type FileEntry, type Layout, type TorrentVersion, planLayout, defaultPieceLength, comparePaths, filePieces, dataLength } from './codec/layout.js';
export { BLOCK_SIZE, piecesRootOf } from './codec/merkle.js';
export { checkComponent, checkRelativePath, safeJoin, type PathRules } from './codec/paths.js';
export { createTorrent, checkPieceLength, type CreateOptions, type Created } from './content/create.js';
export { verifyData, filePathOnDisk, type VerifyReport, type FileReport, type VerifyOptions } from './content/verify.js';
export { describeTorrent, describeMagnet, type TorrentDescription } from './content/describe.js';
export { VERSION } from './version.js';
export { startDownload, startMagnetDownload, startSeeding, type MagnetDownloadOptions, parsePeerAddress, selectPieces, type Transfer, type TransferOptions } from './client/transfer.js';
export { Session, type SessionOptions } from './engine/session.js';
export { ORIGIN_POLICIES, type OriginPolicy } from './engine/origins.js';
export { type WebSeedStats } from './engine/web-seed.js';
export { type TorrentStats } from './engine/torrent.js';
export { EventChannel, type SeedbankEvents, type EventName } from './events.js';
export { startOrigin, type HttpOrigin, type OriginOptions, type OriginStats } from './origin/http-origin.js';
