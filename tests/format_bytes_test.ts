/**
 * The bytes of the format (docs/format.md), from fixed inputs: inode record, pointer entry,
 * entry-place record, inode file header and slot, blob framing and owners, chunk associated data,
 * names and paths, and the key file of every committed fixture re-serialized byte for byte. The
 * expected bytes were produced by the release that made the fixtures; a change here means data dirs
 * users already have would no longer read the same: fix the code, never these bytes.
 */
import { throws } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { decodeRecord, encodeRecord, type InodeRecord } from "../src/store/format/record.ts";
import { decodePointer, encodePointer } from "../src/store/format/entry.ts";
import {
  contentBase,
  decodePlacedRecord,
  encodeHeader,
  encodePlacedRecord,
  headBytes,
  isInodeFile,
  parseHeader,
  REGULAR_SLOT,
  slotBlobs,
  slotImage,
  slotSizeFor,
} from "../src/store/format/inode_file.ts";
import {
  blobOwner,
  CorruptObjectError,
  ENTRY_RECORD_MAGIC,
  entryPlaceAd,
  frameBlob,
  OBJECT_RECORD_MAGIC,
  objectPlaceAd,
  POINTER_MAGIC,
  splitBlob,
} from "../src/store/format/blob.ts";
import { chunkAd, chunkAdTemplate } from "../src/store/format/chunk_slot.ts";
import {
  entryNameInput,
  objectNameInput,
  objectPaths,
  tmpPath,
  trashName,
} from "../src/store/format/paths.ts";
import {
  keyCheckMessage,
  parseKeyFileBytes,
  serializeKeyFile,
  wrapAd,
} from "../src/store/format/keyfile.ts";
import { creatableChunkSize, validChunkSize } from "../src/store/format/chunk_size.ts";
import { fileKeySalt } from "../src/store/format/keys.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const zeros = (n: number) => "00".repeat(n);

/** A record with every field set to something that shows in its bytes. */
function sample(): InodeRecord {
  return {
    ino: 0x0102030405060708n,
    seq: 7n,
    mode: 0o100644,
    uid: 1000,
    gid: 100,
    nlink: 2,
    rdev: 3,
    size: 12345,
    atimeNs: -5n,
    mtimeNs: 1_700_000_000_123_456_789n,
    ctimeNs: 1_700_000_000_123_456_789n,
    fileId: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    holes: [[2, 5], [8, 9]],
    parent: 9n,
    subdirs: 1,
    entries: 4,
    target: enc.encode("t"),
    xattrs: new Map([["user.a", Uint8Array.of(1, 2, 3)]]),
  };
}

// The record's fields in order (layout 1), then padding to 256 bytes.
const RECORD_HEX = "01" + "0807060504030201" + "0700000000000000" + "a4810000" + "e8030000" +
  "64000000" + "02000000" + "03000000" + "3930000000000000" + "fbffffffffffffff" +
  "15cd853dfe9c9717" + "15cd853dfe9c9717" + "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" +
  "0900000000000000" + "01000000" + "04000000" + "0100000074" + "02000000" +
  "0200000000000000" + "0500000000000000" + "0800000000000000" + "0900000000000000" +
  "01000000" + "06000000757365722e61" + "03000000010203" + "59000000" + zeros(89);

Deno.test("an inode record encodes to its known bytes and decodes back", () => {
  const bytes = encodeRecord(sample());
  assertEquals(bytes.length, 256);
  assertEquals(hex(bytes), RECORD_HEX);
  assertEquals(decodeRecord(unhex(RECORD_HEX)), sample());
});

Deno.test("a pointer entry and an entry-place record encode to their known bytes", () => {
  const name = enc.encode("hello.txt");
  const pointer = encodePointer({ ino: 0x1122334455667788n, type: 0o040000, name });
  // ino, type, name length and name, then u32 pad length and zeros to 64 bytes.
  const pointerHex = "8877665544332211" + "00400000" + "09000000" + hex(name) + "23000000" +
    zeros(35);
  assertEquals(hex(pointer), pointerHex);
  assertEquals(decodePointer(pointer), { ino: 0x1122334455667788n, type: 0o040000, name });

  const placed = encodePlacedRecord(name, unhex(RECORD_HEX));
  assertEquals(hex(placed), "09000000" + hex(name) + "2f000000" + zeros(47) + RECORD_HEX);
  const back = decodePlacedRecord(placed);
  assertEquals([back.name, hex(back.record)], [name, RECORD_HEX]);
});

Deno.test("an inode file's header and slots lie where docs/format.md says", () => {
  const header = encodeHeader(REGULAR_SLOT);
  assertEquals(hex(header), "524e4349" + "01" + "000000" + "f80f0000" + "00000000");
  assertEquals(isInodeFile(header), true);
  assertEquals(parseHeader(header), REGULAR_SLOT);
  // Header and two slots of a regular file fill 8 KiB; chunks start there.
  assertEquals([headBytes(header), contentBase(REGULAR_SLOT)], [8192, 8192]);
  // Other inodes: multiples of 512 with room for the longest name.
  assertEquals([slotSizeFor(100), slotSizeFor(200)], [1024, 1024]);
  throws(() => parseHeader(encodeHeader(256)), CorruptObjectError);
  throws(() => parseHeader(enc.encode("RNCE").subarray()), CorruptObjectError);

  const file = new Uint8Array(16 + 2 * 1024);
  file.set(encodeHeader(1024));
  file.set(slotImage(Uint8Array.of(9, 8, 7)), 16 + 1024); // slot 1 only
  assertEquals(hex(slotImage(Uint8Array.of(9, 8, 7))), "03000000090807");
  const slots = slotBlobs(file, parseHeader(file));
  assertEquals(slots, [{ slot: 1, blob: Uint8Array.of(9, 8, 7) }]);
  // A slot past the end of the file was never written; a length past it is damage.
  assertEquals(slotBlobs(file.subarray(0, 16 + 1024), 1024), []);
  const cut = slotBlobs(file.subarray(0, 16 + 1024 + 5), 1024);
  assertEquals(cut[0].blob instanceof CorruptObjectError, true);
});

Deno.test("blobs are framed as magic, version, nonce, sealed, and owned by their place", () => {
  assertEquals(
    [OBJECT_RECORD_MAGIC, ENTRY_RECORD_MAGIC, POINTER_MAGIC].map((m) =>
      new TextDecoder().decode(m)
    ),
    ["RNCM", "RNCL", "RNCE"],
  );
  const nonce = Uint8Array.of(1, 2, 3);
  const sealed = new Uint8Array(16).fill(0xee);
  const blob = frameBlob(POINTER_MAGIC, nonce, sealed);
  assertEquals(hex(blob), "524e4345" + "01" + "010203" + "ee".repeat(16));
  assertEquals(splitBlob(POINTER_MAGIC, blob, 3), { nonce, sealed });
  throws(() => splitBlob(OBJECT_RECORD_MAGIC, blob, 3), /wrong magic/);
  throws(() => splitBlob(POINTER_MAGIC, blob.subarray(0, 20), 3), /truncated/);
  const v2 = blob.slice();
  v2[4] = 2;
  throws(() => splitBlob(POINTER_MAGIC, v2, 3), /unknown version 2/);

  assertEquals(hex(objectPlaceAd(5n)), "0500000000000000");
  assertEquals(hex(entryPlaceAd(5n, "abc")), "0500000000000000" + "616263");
  assertEquals(
    hex(blobOwner(ENTRY_RECORD_MAGIC, objectPlaceAd(1n))),
    "524e434c" + "0100000000000000",
  );
});

Deno.test("a chunk's associated data binds label, inode, file id, index and generation", () => {
  const fileId = new Uint8Array(16).fill(0xab);
  const label = hex(enc.encode("rencfs/v1/chunk\0"));
  const paired = { chunkSize: 4096, nonceLength: 24, paired: true };
  const single = { chunkSize: 4096, nonceLength: 12, paired: false };
  const head = label + "0700000000000000" + "ab".repeat(16);
  assertEquals(
    hex(chunkAd(chunkAdTemplate(paired, 7n, fileId), paired, 3, 2)),
    head + "0300000000000000" + "0200000000000000",
  );
  assertEquals(
    hex(chunkAd(chunkAdTemplate(single, 7n, fileId), single, 3, 0)),
    head + "03" + zeros(7),
  );
  assertEquals(hex(fileKeySalt(7n, fileId)), "0700000000000000" + "ab".repeat(16));
});

Deno.test("names and paths of a data dir follow its layout", () => {
  const name = "abcdefghijklmnopqrstuvwxyz";
  assertEquals(objectPaths("/d", name), {
    shard: "/d/o/ab",
    record: `/d/o/ab/${name}.m`,
    entries: `/d/o/ab/${name}.d`,
  });
  assertEquals(hex(objectNameInput(258n)), "0201000000000000");
  assertEquals(hex(entryNameInput(1n, enc.encode("x"))), "0100000000000000" + "78");
  assertEquals(trashName(new Uint8Array(10)), "a".repeat(16));
  assertEquals(
    tmpPath("/d/rencfs.conf", new Uint8Array(5).fill(0xff)),
    "/d/rencfs.conf.tmp-77777777",
  );
});

Deno.test("the chunk-size rule: creation makes powers of two, a key file may hold more", () => {
  assertEquals([4096, 65536, 1 << 20].map(creatableChunkSize), [true, true, true]);
  assertEquals([2048, 12288, 2 << 20, 0].map(creatableChunkSize), [false, false, false, false]);
  assertEquals([512, 1536, 4096, 64 << 20].map(validChunkSize), [true, true, true, true]);
  assertEquals([0, 1000, 128 << 20, "4096"].map(validChunkSize), [false, false, false, false]);
  // Every creatable size is one a key file may hold.
  for (let n = 4096; n <= 1 << 20; n *= 2) assertEquals(validChunkSize(n), true);
});

Deno.test("every fixture's key file re-serializes to exactly its bytes", () => {
  const root = new URL("./fixtures", import.meta.url).pathname;
  let seen = 0;
  for (const e of Deno.readDirSync(root)) {
    if (!e.isDirectory) continue;
    const bytes = Deno.readFileSync(`${root}/${e.name}/data/rencfs.conf`);
    const parsed = parseKeyFileBytes(bytes);
    assertEquals(serializeKeyFile(parsed.header, parsed.wrapped, parsed.keyCheck), bytes);
    assertEquals(creatableChunkSize(parsed.header.chunkSize), true, e.name);
    // The authenticated header texts start with their labels and hold no `created` in the AD.
    const ad = new TextDecoder().decode(wrapAd(parsed.header));
    const check = new TextDecoder().decode(keyCheckMessage(parsed.header));
    assertEquals(ad.startsWith('rencfs key wrap v1\0{"chunkSize":4096,"cipher":'), true, ad);
    assertEquals([ad.includes('"created"'), check.includes('"created"')], [false, true]);
    assertEquals(check.startsWith("rencfs key check v1\0{"), true);
    seen++;
  }
  assertEquals(seen, 9);
});
