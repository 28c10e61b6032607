// Reading zip archives (Python wheels are zip files): list the members, extract chosen ones.
// `vlmc setup native` needs 2 libraries and a few dozen headers out of a 270 MB wheel holding
// 15,000 files, so extracting it all (1.5 GB) or depending on an unzip tool would waste disk and
// add a requirement. The zip format itself (zip64, deflate, entry validation) is left to `yauzl`
// (docs/dependencies.md); this file only adapts its callback API to the two calls vlmc makes and
// turns its errors into ZipError, whose message ends up in the user-facing "cannot read the wheel".
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's local header. */
  localOffset: number;
  /** Unix mode bits from the external attributes (0 when the archive has none). */
  mode: number;
}

/** The archive is not a zip file we can read; the message says what was wrong. */
export class ZipError extends Error {
  override name = "ZipError";
}

/**
 * yauzl's own record of each entry listZip returned: extraction hands it back to yauzl, which
 * then reads only that member's local header and data (kept out of ZipEntry so that stays plain data).
 */
const yauzlEntries = new WeakMap<ZipEntry, yauzl.Entry>();

/**
 * yauzl reports format problems, and zlib corrupt deflate data, as Errors without a `syscall`;
 * file-system errors (ENOENT, EACCES, ENOSPC…) have one and pass through unchanged.
 */
function zipError(err: unknown, what?: string): unknown {
  if (!(err instanceof Error) || err instanceof ZipError || typeof (err as NodeJS.ErrnoException).syscall === "string") return err;
  const message = /end of central directory record signature not found/i.test(err.message)
    ? "not a zip archive, or a truncated one (no end-of-central-directory record)"
    : `corrupt or truncated zip archive: ${err.message}`;
  return new ZipError(what === undefined ? message : `${what}: ${message}`);
}

/** Opens lazily (nothing but the end records is read yet) and without closing on "end": the caller closes. */
function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zipfile) => (err ? reject(zipError(err)) : resolve(zipfile)));
  });
}

/** Every member of the archive at `path`, in central-directory order. */
export async function listZip(path: string): Promise<ZipEntry[]> {
  const zipfile = await openZip(path);
  try {
    return await new Promise<ZipEntry[]>((resolve, reject) => {
      const entries: ZipEntry[] = [];
      zipfile.on("entry", (e: yauzl.Entry) => {
        const entry: ZipEntry = {
          name: e.fileName,
          method: e.compressionMethod,
          compressedSize: e.compressedSize,
          size: e.uncompressedSize,
          localOffset: e.relativeOffsetOfLocalHeader,
          mode: (e.externalFileAttributes >>> 16) & 0o7777,
        };
        yauzlEntries.set(entry, e);
        entries.push(entry);
        zipfile.readEntry();
      });
      zipfile.on("end", () => resolve(entries));
      zipfile.on("error", (err: unknown) => reject(zipError(err)));
      zipfile.readEntry();
    });
  } finally {
    zipfile.close();
  }
}

/** Streams one member (an entry listZip returned) of the archive at `path` into the file `to` (created or truncated). */
export async function extractZipEntry(path: string, entry: ZipEntry, to: string): Promise<void> {
  const raw = yauzlEntries.get(entry);
  if (raw === undefined) throw new ZipError(`${entry.name}: not an entry listed from ${path}`);
  if (!raw.canDecodeFileData()) throw new ZipError(`${entry.name}: unsupported compression method ${entry.method} or encryption`);
  const zipfile = await openZip(path);
  try {
    // yauzl inflates and checks the byte count against the central directory's size.
    const data = await new Promise<Readable>((resolve, reject) => {
      zipfile.openReadStream(raw, (err, stream) => (err ? reject(err) : resolve(stream)));
    });
    await pipeline(data, createWriteStream(to));
  } catch (err) {
    throw zipError(err, entry.name);
  } finally {
    zipfile.close();
  }
}
