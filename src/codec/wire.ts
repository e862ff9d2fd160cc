/**
 * The peer wire protocol's framing and messages: the 68-byte handshake (BEP 3), the reserved bits
 * (BEP 5, 6, 10, 52), and every length-prefixed message of BEP 3, BEP 6 (fast extension), BEP 10
 * (extended) and BEP 52 (hash request, hashes, hash reject).
 *
 * For: the one import of the wire codec. This module only re-exports the three that hold it:
 * - wire-handshake.ts: the handshake and its reserved bits;
 * - wire-messages.ts: the `Message` types, their ids and encoding, and `WireError`;
 * - wire-decoder.ts: `MessageDecoder`, which turns bytes from a peer into a handshake and messages.
 */
export { type WireErrorCode, WireError } from './wire-messages.js';
export {
  PROTOCOL_NAME,
  HANDSHAKE_LENGTH,
  type Handshake,
  type ReservedFlag,
  RESERVED_EXTENSION,
  RESERVED_FAST,
  RESERVED_DHT,
  RESERVED_V2,
  makeReserved,
  hasReserved,
  encodeHandshake,
  decodeHandshake,
} from './wire-handshake.js';
export {
  type Message,
  type MessageType,
  type MessageOf,
  MESSAGE_ID,
  EXTENDED_HANDSHAKE_ID,
  PIECE_HEADER_LENGTH,
  DEFAULT_MAX_MESSAGE_LENGTH,
  encodeMessage,
  encodePieceHeader,
} from './wire-messages.js';
export { type MessageDecoderOptions, MessageDecoder } from './wire-decoder.js';
