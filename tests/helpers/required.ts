/**
 * Skips that CI does not accept. Tests needing root, /dev/fuse or loop devices skip cleanly on a
 * machine without them; but on one that has them (`.ci/run` checks and says so through
 * RENCFS_REQUIRE_FUSE=1 and RENCFS_REQUIRE_LOOP=1), a skip would hide a broken precondition
 * (a library path not found, a helper's check gone wrong) behind a green run. There each skipped
 * group registers one failing test that names the reason instead.
 */

/** A capability CI can require: FUSE mounts, or loop devices (the crash tests' ext4 images). */
export type Capability = "fuse" | "loop";

const VARIABLE: Readonly<Record<Capability, string>> = {
  fuse: "RENCFS_REQUIRE_FUSE",
  loop: "RENCFS_REQUIRE_LOOP",
};

/** Whether the environment says `cap` is present here, so tests needing it must run. */
export function isRequired(cap: Capability): boolean {
  return Deno.env.get(VARIABLE[cap]) === "1";
}

/**
 * The `ignore` value of tests that need `caps` and would be skipped for `reason` (undefined:
 * they can run). When every one of `caps` is required here, a skip is a failure: one test named
 * after `group` fails with the reason (the group stays ignored, as its preconditions are not met).
 */
export function skipUnlessRequired(
  group: string,
  reason: string | undefined,
  caps: Capability[] = ["fuse"],
): boolean {
  if (reason === undefined) return false;
  const required = caps.filter(isRequired);
  if (required.length === caps.length) {
    const vars = required.map((c) => `${VARIABLE[c]}=1`).join(" ");
    Deno.test(`${group} run where required (${vars})`, () => {
      throw new Error(
        `${group} would be skipped (${reason}), but ${vars} says this machine can run them`,
      );
    });
  } else {
    console.warn(`${group} skipped: ${reason}`);
  }
  return true;
}
