#!/bin/sh
# rencfs @VERSION@ for x86_64 Linux, as one self-extracting file (built by scripts/release).
# Below this shell header is a tar archive (@COMPRESSION@): Deno @DENO_VERSION@, the rencfs
# source and a Deno cache holding every package rencfs imports. The first run of each user unpacks it (once per
# user and build) into ${XDG_CACHE_HOME:-~/.cache}/rencfs/<key below>; every run then starts
# rencfs from there, offline.
# Needs only glibc, libfuse3 and @COMPRESSION@ (Debian/Ubuntu: apt-get install fuse3).
set -eu
key=@KEY@
skip=@OFFSET@
self=$0
case $self in */*) ;; *) self=$(command -v -- "$self") ;; esac
if [ -n "${XDG_CACHE_HOME:-}" ]; then
  cache=$XDG_CACHE_HOME/rencfs
elif [ -n "${HOME:-}" ]; then
  cache=$HOME/.cache/rencfs
else
  echo "rencfs: neither XDG_CACHE_HOME nor HOME is set: nowhere to unpack to" >&2
  exit 1
fi
dir=$cache/$key
if [ ! -d "$dir" ]; then
  mkdir -p "$cache"
  # Unpacked into a temporary folder and renamed: a run that is interrupted, or two first runs
  # at once, never leave a half-unpacked folder where the next run would use it.
  tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
  if ! tail -c +$((skip + 1)) "$self" | tar -x@UNZIP@f - -C "$tmp"; then
    rm -rf "$tmp"
    echo "rencfs: cannot unpack $self into $cache (damaged download or full disk?)" >&2
    exit 1
  fi
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another first run got there first
  [ -x "$dir/deno" ] || { echo "rencfs: cannot unpack into $dir" >&2; exit 1; }
fi
# The cache holds packages of the default npm registry; another registry would be looked up
# in a different (empty) folder of the cache.
unset NPM_CONFIG_REGISTRY npm_config_registry
DENO_DIR=$dir/deno_dir
DENO_NO_UPDATE_CHECK=1
export DENO_DIR DENO_NO_UPDATE_CHECK
case ${1:-} in
/*) # `rencfs DATADIR MNT -o OPTIONS`: how mount.fuse3 runs a fuse.rencfs line of /etc/fstab.
  RENCFS=$self exec /bin/sh "$dir/rencfs/packaging/mount.rencfs" "$@" ;;
esac
exec "$dir/deno" run --quiet --cached-only --no-remote --allow-all --no-prompt \
  --v8-flags=@V8_FLAGS@ --config "$dir/rencfs/deno.json" "$dir/rencfs/cli.ts" "$@"
