/** The key file checksum as docs/format.md defines it, written independently of keyfile.ts. */
type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** SHA-256 (hex) of the canonical JSON of every field but `checksum`. */
export async function checksumOf(conf: { [k: string]: Json }): Promise<string> {
  const { checksum: _, ...rest } = conf;
  const h = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical(rest)));
  return [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
