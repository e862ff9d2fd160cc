/**
 * Named errors with stable codes. A user sees `message` as one line; code lets programs branch.
 * Bad input (a malformed torrent, an unsafe path, a wrong flag) is always one of these, never a
 * stack trace.
 */
export class SeedbankError extends Error {
  override name = 'SeedbankError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A .torrent or magnet link that does not follow the BEPs. */
export class MetainfoError extends SeedbankError {
  override name = 'MetainfoError';
  constructor(message: string, code = 'METAINFO_INVALID') {
    super(code, message);
  }
}

/** A file name from a torrent that would be unsafe to create on disk. */
export class UnsafePathError extends SeedbankError {
  override name = 'UnsafePathError';
  constructor(message: string) {
    super('UNSAFE_PATH', message);
  }
}

/** Bad arguments or local conditions the user can fix (missing file, empty folder...). */
export class UsageError extends SeedbankError {
  override name = 'UsageError';
  constructor(message: string, code = 'USAGE') {
    super(code, message);
  }
}
