// Fetching ahead starts only for a reader that keeps going where it left off: random reads that
// land near the last one by chance fetch nothing.
import { assertEquals } from "./helpers/assert.ts";
import { ReadAhead } from "../src/fs/read_ahead.ts";

const CS = 65536;
const KiB4 = 4096;

Deno.test("read-ahead starts on the second sequential read in a row", () => {
  const ra = new ReadAhead();
  const at = (off: number, len: number) =>
    ra.begin(off, off + len, Math.floor((off + len - 1) / CS));
  assertEquals(at(0, 131072), false, "first read");
  assertEquals(at(131072, 131072), false, "one continuation");
  assertEquals(at(262144, 131072), true, "two in a row");
  assertEquals(at(393216, 131072), true);
  assertEquals(at(50 * CS, 131072), false, "a jump starts over");
});

Deno.test("random 4 KiB reads in a small file never fetch ahead", () => {
  const ra = new ReadAhead();
  // Offsets that each land within the slack of the read before (chance hits in a random run),
  // separated by jumps.
  const offs = [0, 300 * KiB4, 310 * KiB4, 2, 700 * KiB4, 650 * KiB4, 5 * KiB4, 900 * KiB4];
  let fetched = 0;
  for (const o of offs) if (ra.begin(o, o + KiB4, Math.floor(o / CS))) fetched++;
  assertEquals(fetched, 0);
});
