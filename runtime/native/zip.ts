// A minimal reader for zip archives (Python wheels are zip files): list the members, extract
// chosen ones. `vlmc setup native` needs 2 libraries and a few dozen headers out of a 270 MB wheel
// holding 15,000 files, so extracting it all (1.5 GB) or depending on an unzip tool would waste
// disk and add a requirement. Stored and deflated members, zip64 sizes and offsets; no
// encryption, no multi-disk archives (wheels use neither).
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createInflateRaw } from "node:zlib";

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

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new ZipError("truncated archive");
    done += n;
  }
  return buf;
}

/** Every member of the archive at `path`, in central-directory order. */
export function listZip(path: string): ZipEntry[] {
  const fd = openSync(path, "r");
  try {
    const fileSize = fstatSync(fd).size;
    // The end record is 22 bytes plus a comment of at most 65,535 bytes.
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tail = readAt(fd, fileSize - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipError("not a zip archive (no end-of-central-directory record)");
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locatorAt = fileSize - tailLength + eocd - 20;
      if (locatorAt < 0) throw new ZipError("zip64 archive without its locator");
      const locator = readAt(fd, locatorAt, 20);
      if (locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ZipError("zip64 archive without its locator");
      const record = readAt(fd, Number(locator.readBigUInt64LE(8)), 56);
      if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipError("bad zip64 end record");
      count = Number(record.readBigUInt64LE(32));
      cdSize = Number(record.readBigUInt64LE(40));
      cdOffset = Number(record.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > fileSize) throw new ZipError("central directory beyond the end of the file (truncated download?)");
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new ZipError(`bad central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const external = cd.readUInt32LE(p + 38);
      let localOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLength);
      // zip64: the fields saturated at 0xffffffff follow in the extra field 0x0001, in this order.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const length = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = Number(cd.readBigUInt64LE(q))), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = Number(cd.readBigUInt64LE(q))), (q += 8);
          if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + length;
      }
      entries.push({ name, method, compressedSize, size, localOffset, mode: (external >>> 16) & 0o7777 });
      p = extraEnd + commentLength;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Streams one member of the archive at `path` into the file `to` (created or truncated). */
export async function extractZipEntry(path: string, entry: ZipEntry, to: string): Promise<void> {
  if (entry.method !== 0 && entry.method !== 8) throw new ZipError(`${entry.name}: unsupported compression method ${entry.method}`);
  const fd = openSync(path, "r");
  let dataStart: number;
  try {
    const local = readAt(fd, entry.localOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL) throw new ZipError(`${entry.name}: bad local header`);
    // The local header's own name and extra lengths may differ from the central directory's.
    dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    closeSync(fd);
  }
  if (entry.compressedSize === 0) {
    writeFileSync(to, "");
    return;
  }
  const out = createWriteStream(to);
  const source = createReadStream(path, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
  if (entry.method === 0) await pipeline(source, out);
  else await pipeline(source, createInflateRaw(), out);
}
