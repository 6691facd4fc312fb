// Record save passes run a few writes at a time: every item is done, never more than the limit
// at once, and a failure stops the pass once the running ones have settled.
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { forEachBounded } from "../src/util/bounded.ts";

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

Deno.test("every item runs, never more than the limit at once", async () => {
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await forEachBounded(Array.from({ length: 50 }, (_, i) => i), 4, async (i) => {
    running++;
    most = Math.max(most, running);
    await tick();
    done.push(i);
    running--;
  });
  assertEquals(most, 4);
  assertEquals(done.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  await forEachBounded([], 4, () => Promise.reject(new Error("never called")));
});

Deno.test("a failure starts no more items and rejects after the running ones settle", async () => {
  const started: number[] = [];
  let settled = 0;
  await assertRejects(
    () =>
      forEachBounded(Array.from({ length: 20 }, (_, i) => i), 3, async (i) => {
        started.push(i);
        await tick();
        settled++;
        if (i === 1) throw new Error("disk full");
      }),
    (e) => (e as Error).message === "disk full",
  );
  assertEquals(settled, started.length, "nothing left running");
  assertEquals(started.length < 20, true, "later items were not started");
});
