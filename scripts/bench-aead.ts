/**
 * AEAD throughput of every backend in src/crypto/aead.ts, in MB/s (10^6 bytes per second), for
 * 4 KiB, 64 KiB and 256 KiB chunks, seal and open, awaited one by one and (for the async
 * WebCrypto backend) with 16 calls in flight. Median of 5 runs.
 *
 * Run: deno run -A scripts/bench-aead.ts [--quick] [--cipher=NAME]
 * The machine must be otherwise idle: on shared CPUs the figures vary by 2x between runs.
 */

import { type Aead, allBackends, CIPHERS } from "../src/crypto/aead.ts";
import { randomBytes } from "../src/crypto/random.ts";

const CHUNKS = [4096, 65536, 262144];
const quick = Deno.args.includes("--quick");
const RUNS = quick ? 3 : 5;
const only = Deno.args.find((a) => a.startsWith("--cipher="))?.slice("--cipher=".length);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(
  a: Aead,
  chunk: number,
  totalBytes: number,
  inFlight: number,
): Promise<{ seal: number; open: number }> {
  const key = await a.importKey(randomBytes(32));
  const ad = randomBytes(16);
  const count = Math.max(4, Math.floor(totalBytes / chunk));
  const pt = randomBytes(chunk);
  // A small ring of slots: keeping every result alive would measure the GC, not the cipher.
  const SLOTS = 64;
  const nonces = Array.from({ length: SLOTS }, () => randomBytes(a.nonceLength));
  const sealed: Uint8Array[] = [];
  for (let i = 0; i < SLOTS; i++) sealed.push(await a.seal(key, nonces[i], pt, ad));

  const run = async (f: (i: number) => Promise<void>): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < count; i += inFlight) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(count, i + inFlight); j++) batch.push(f(j));
      await Promise.all(batch);
    }
    return (count * chunk) / ((performance.now() - t0) / 1000) / 1e6;
  };

  const seals: number[] = [];
  const opens: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    seals.push(
      await run(async (i) => {
        sealed[i % SLOTS] = await a.seal(key, nonces[i % SLOTS], pt, ad);
      }),
    );
    opens.push(
      await run(async (i) => {
        const slot = i % SLOTS;
        if ((await a.open(key, nonces[slot], sealed[slot], ad)) === null) {
          throw new Error("open failed");
        }
      }),
    );
  }
  return { seal: median(seals), open: median(opens) };
}

const rows: string[] = [];
rows.push("| cipher | backend | in flight | chunk | seal MB/s | open MB/s |");
rows.push("| --- | --- | --- | --- | --- | --- |");
for (const cipher of CIPHERS) {
  if (only && cipher !== only) continue;
  for (const { backend, aead } of allBackends(cipher)) {
    const name = backend === "fast" ? `fast (${fastLabel(cipher)})` : backend;
    const slow = backend === "noble" || backend === "node:crypto";
    const total = (quick ? 8 : 64) * 2 ** 20 / (slow ? 4 : 1);
    const flights = cipher === "aes-256-gcm" && backend === "fast" ? [1, 16] : [1];
    for (const inFlight of flights) {
      for (const chunk of CHUNKS) {
        // Warm-up so JIT and lazy init do not count.
        await measure(aead, chunk, 2 ** 20, inFlight);
        const r = await measure(aead, chunk, total, inFlight);
        const row = `| ${cipher} | ${name} | ${inFlight} | ${chunk / 1024} KiB | ${
          r.seal.toFixed(0)
        } | ${r.open.toFixed(0)} |`;
        rows.push(row);
        console.error(row);
      }
    }
  }
}
console.log(rows.join("\n"));

function fastLabel(c: string): string {
  switch (c) {
    case "aes-256-gcm":
      return "WebCrypto";
    case "xchacha20-poly1305":
      return "hchacha + node:crypto";
    default:
      return "node:crypto";
  }
}
