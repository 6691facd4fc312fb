/// <reference lib="deno.worker" />
/**
 * Worker side of {@link ../crypto/aead_pool.ts}: seals or opens a batch of chunks with the
 * native backend, off the main thread. Messages carry raw keys, never passwords.
 */
import { aead, type CipherName } from "./aead.ts";

/** A request from the pool. */
export interface WorkerRequest {
  id: number;
  op: "seal" | "open";
  cipher: CipherName;
  key: Uint8Array;
  nonces: Uint8Array[];
  /** Plaintexts (seal) or sealed chunks (open). */
  inputs: Uint8Array[];
  ads: Uint8Array[];
}

/** The reply: one output per input; null where authentication failed. */
export interface WorkerReply {
  id: number;
  outputs: (Uint8Array | null)[];
  error?: string;
}

self.onmessage = async (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  try {
    const a = aead(req.cipher);
    const key = await a.importKey(req.key);
    req.key.fill(0);
    const outputs = await Promise.all(
      req.inputs.map((input, i) =>
        req.op === "seal"
          ? a.seal(key, req.nonces[i], input, req.ads[i])
          : a.open(key, req.nonces[i], input, req.ads[i])
      ),
    );
    const transfer = outputs.filter((o): o is Uint8Array => o !== null).map((o) => o.buffer);
    const reply: WorkerReply = { id: req.id, outputs };
    self.postMessage(reply, { transfer: uniqueBuffers(transfer) });
  } catch (e) {
    self.postMessage({ id: req.id, outputs: [], error: String(e) } satisfies WorkerReply);
  }
};

function uniqueBuffers(bufs: ArrayBufferLike[]): ArrayBuffer[] {
  return [...new Set(bufs)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}
