# Sourced by ./rencfs and scripts/test: installs on first use what rencfs needs, quietly when
# it is already there. Deno comes from the npm package `deno` (pinned) into .deno/; libfuse3,
# fuse3 and the test tools come from apt when running as root.
DENO_VERSION=2.9.6
RENCFS_ROOT=${RENCFS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DENO="$RENCFS_ROOT/.deno/node_modules/.bin/deno"
export DENO_NO_UPDATE_CHECK=1

rencfs_setup_deno() {
  if [ -x "$DENO" ] && "$DENO" --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then return 0; fi
  command -v npm >/dev/null || { echo "rencfs: npm is needed to install Deno (apt-get install npm)" >&2; return 1; }
  # npm --silent says nothing when it fails (a root-owned checkout run by another user exits
  # 243): check what can be checked first, and name the failure afterwards.
  local into="$RENCFS_ROOT/.deno" probe="$RENCFS_ROOT/.deno"
  [ -e "$probe" ] || probe=$RENCFS_ROOT
  if [ ! -w "$probe" ]; then
    echo "rencfs: Deno $DENO_VERSION is not installed in $into, and $(id -un) cannot write" \
      "$probe: run ./rencfs once as its owner ($(stat -c %U "$probe")) to install it" >&2
    return 1
  fi
  echo "rencfs: installing Deno $DENO_VERSION from npm into .deno/ (first run)" >&2
  local rc=0
  npm install --silent --no-audit --no-fund --prefix "$into" "deno@$DENO_VERSION" >&2 || rc=$?
  if [ "$rc" != 0 ] || ! "$DENO" --version >/dev/null 2>&1; then
    echo "rencfs: installing Deno $DENO_VERSION failed (npm exit status $rc); to see why, run:" \
      "npm install --prefix '$into' deno@$DENO_VERSION" >&2
    return 1
  fi
}

# apt packages: $1.. are "command-or-file:package" pairs; installs the missing ones when root.
rencfs_setup_apt() {
  local missing=() pair probe pkg
  for pair in "$@"; do
    probe=${pair%%:*}; pkg=${pair#*:}
    if [ "${probe#/}" != "$probe" ]; then [ -e "$probe" ] && continue
    else command -v "$probe" >/dev/null 2>&1 && continue; fi
    missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "rencfs: missing packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    return 0
  fi
  echo "rencfs: installing ${missing[*]} with apt-get (first run)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

rencfs_libfuse_path() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/libfuse3.so.3 /usr/lib/aarch64-linux-gnu/libfuse3.so.3 /usr/lib/libfuse3.so.3 /lib/x86_64-linux-gnu/libfuse3.so.3; do
    [ -e "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

rencfs_setup() {
  rencfs_setup_deno
  local lib
  lib=$(rencfs_libfuse_path || echo /usr/lib/x86_64-linux-gnu/libfuse3.so.3)
  rencfs_setup_apt "fusermount3:fuse3" "$lib:libfuse3-3"
}
