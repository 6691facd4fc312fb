/** The Argon2 cost of new data dirs; RENCFS_KDF_TEST_COST=1 makes it cheap, for tests only. */

/** Environment variable that selects the cheap test cost. Never set it for real data. */
export const KDF_TEST_COST_ENV = "RENCFS_KDF_TEST_COST";

/** Argon2 parameters a new data dir is created with. */
export interface KdfCost {
  memoryKiB: number;
  iterations: number;
}

/** A cost that makes tests fast and the password easy to brute-force. */
export const TEST_KDF_COST: Readonly<KdfCost> = Object.freeze({ memoryKiB: 8192, iterations: 1 });

/** The cost to create a data dir with: the test cost when asked for, else the store default. */
export function kdfCostFromEnv(): KdfCost | undefined {
  return Deno.env.get(KDF_TEST_COST_ENV) === "1" ? { ...TEST_KDF_COST } : undefined;
}
