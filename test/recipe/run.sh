#!/usr/bin/env bash
# The README's "In CI" recipe, run for real by .ci/run: pack ragoss, install the tarball globally
# the way a user's CI job would (no CUDA download, nothing reached but the npm registry), then the
# recipe's own commands with the exit codes a script branches on:
#   cold:      nothing cached -> `ragoss search` exits 3 -> ingest the docs -> ask with --json
#   warm:      the cached home restored -> search answers at once, nothing ingested
#   snapshot:  `ragoss export` on the first machine, `ragoss ingest --source FILE` on a fresh one,
#              same answers; a damaged snapshot refused with exit 1 and the data still serving
#
# Phases: `run.sh` does all of them in a throwaway directory. .ci/run splits them to overlap the
# install with the test suite: `run.sh pack DIR` (before the tests: npm pack runs `prepare`, which
# rewrites dist/ that the tests run), `run.sh install DIR` (beside the tests: npm reads only its cache
# and the registry) and `run.sh commands DIR` (after them); DIR is then the caller's to remove.
#
# Needs: node/npm, ../shared (the FAQ zip), RAGOSS_MODEL_DIR or RAGOSS_REAL_MODEL_DIR holding
# Xenova/all-mpnet-base-v2 (CI builds it). Milvus Lite: the test setup's venv when there is one
# (RAGOSS_TEST_VENV_DIR), else the installed ragoss pip-installs it as it would for a user.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${RAGOSS_SHARED_DIR:-$root/../shared}"
docs="$shared/data/milvus_docs_2.4.x_en.zip"
phase="${1:-all}"
case "$phase" in
  all) work="$(mktemp -d /tmp/ragoss-recipe-XXXXXX)" ;;
  pack | install | commands) work="${2:?usage: run.sh [pack|install|commands DIR]}"; mkdir -p "$work" ;;
  *) echo "usage: run.sh [pack|install|commands DIR]" >&2; exit 2 ;;
esac
question="How is data stored in milvus?"
step() { printf 'recipe: %s\n' "$*" >&2; }
fail() { printf 'recipe: FAILED: %s\n' "$*" >&2; exit 1; }

chat_pid=""
cleanup() {
  case "$phase" in pack | install) return 0 ;; esac
  # Nothing left running: the services the recipe's commands started, and the chat endpoint.
  for home in "$work/home" "$work/fresh"; do
    [ -x "$work/prefix/bin/ragoss" ] && RAGOSS_HOME="$home" "$work/prefix/bin/ragoss" serve --stop >/dev/null 2>&1 || true
  done
  [ -n "$chat_pid" ] && kill "$chat_pid" 2>/dev/null || true
  [ "$phase" = all ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

seconds() { node -e 'process.stdout.write(((Date.now() - Number(process.argv[1])) / 1000).toFixed(1))' "$1"; }
now() { node -e 'process.stdout.write(String(Date.now()))'; }
json() { node -e 'let t="";process.stdin.on("data",(d)=>t+=d).on("end",()=>{const v=JSON.parse(t);process.stdout.write(String(eval(process.argv[1])))})' "$1"; }

# --- install, as a user's job does: from the packed tarball, outside this checkout (its .npmrc,
# which skips onnxruntime-node's CUDA download here, must not be what makes it work).
pack() {
  local started; started=$(now)
  step "npm pack"
  (cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
  step "packed in $(seconds "$started") s: $(basename "$(ls "$work"/ragoss-*.tgz)")"
}

install() {
  local started tarball; started=$(now)
  tarball=$(ls "$work"/ragoss-*.tgz)
  step "npm install -g $(basename "$tarball") ($(du -m "$tarball" | cut -f1) MB)"
  (cd "$work" && env -u npm_config_onnxruntime_node_install_cuda -u ONNXRUNTIME_NODE_INSTALL_CUDA \
    npm install -g --prefix "$work/prefix" --no-audit --no-fund --loglevel=error "$tarball" >"$work/install.log" 2>&1) \
    || { tail -20 "$work/install.log" >&2; fail "global install of the packed tarball"; }
  [ -d "$work/prefix/lib/node_modules/ragoss/node_modules/onnxruntime-node" ] || fail "onnxruntime-node is not the bundled copy"
  "$work/prefix/bin/ragoss" --version >/dev/null || fail "ragoss --version"
  step "installed in $(seconds "$started") s: $("$work/prefix/bin/ragoss" --version)"
}

case "$phase" in
  pack) pack; exit 0 ;;
  install) install; exit 0 ;;
  all) pack; install ;;
esac
ragoss="$work/prefix/bin/ragoss"
[ -x "$ragoss" ] || fail "no installed ragoss in $work/prefix (run the pack and install phases first)"

export RAGOSS_MODEL_DIR="${RAGOSS_MODEL_DIR:-${RAGOSS_REAL_MODEL_DIR:-$HOME/.cache/ragoss-ci/models}}"
export RAGOSS_OFFLINE=1
lite=$(ls -d "${RAGOSS_TEST_VENV_DIR:-/nonexistent}"/venv-[0-9a-f]*/bin/milvus-lite "$root/.venv/bin/milvus-lite" 2>/dev/null | head -1 || true)
[ -n "$lite" ] && export RAGOSS_MILVUS_LITE="$lite"
unset MILVUS_URI RAGOSS_DAEMON
chat_url_file="$work/chat-url"
node "$root/test/recipe/chat-server.mjs" >"$chat_url_file" &
chat_pid=$!
for _ in $(seq 50); do [ -s "$chat_url_file" ] && break; sleep 0.1; done
export RAGOSS_BASE_URL="$(cat "$chat_url_file")"

# --- cold: the cache is empty.
export RAGOSS_HOME="$work/home"
started=$(now)
code=0; "$ragoss" search "$question" --json --quiet >/dev/null 2>"$work/err" || code=$?
[ "$code" = 3 ] || { cat "$work/err" >&2; fail "search before any ingest exited $code, not 3 (not ingested)"; }
step "cold: search says 'not ingested' (exit 3); ingesting"
"$ragoss" ingest --source "$docs" --quiet >/dev/null || fail "ingest"
"$ragoss" ask "$question" --json >"$work/answer.json" 2>"$work/err" || { cat "$work/err" >&2; fail "ask"; }
[ "$(json 'v.hits.length' <"$work/answer.json")" = 3 ] || fail "ask --json did not carry 3 hits"
json 'v.answer' <"$work/answer.json" | grep -q '^From the docs: ' || fail "ask --json answer: $(cat "$work/answer.json")"
step "cold: ingest + ask in $(seconds "$started") s; top source $(json 'v.hits[0].source + " #" + v.hits[0].chunkIndex' <"$work/answer.json")"
json 'v.hits[0].url' <"$work/answer.json" | grep -q '^https://milvus.io/docs/v2.4.x/' || fail "ask --json hits carry no milvus.io link: $(head -c 400 "$work/answer.json")"
code=0; "$ragoss" ask "How do I bake sourdough bread with a crispy crust?" --json >"$work/offtopic.json" 2>"$work/err" || code=$?
[ "$code" = 4 ] && [ "$(json 'v.answered' <"$work/offtopic.json")" = false ] || { cat "$work/err" >&2; fail "an off-topic ask exited $code, not 4 (not covered)"; }
step "cold: an off-topic question exits 4 without asking the model"

# --- warm: the same home, as a restored cache: search answers, nothing to ingest.
started=$(now)
"$ragoss" search "$question" --json --quiet >"$work/warm.json" || fail "warm search"
step "warm: search in $(seconds "$started") s"

# --- snapshot: export here, import on a fresh machine, the same answers.
started=$(now)
"$ragoss" export --out "$work/docs.parquet" --quiet >/dev/null || fail "export"
RAGOSS_HOME="$work/fresh" "$ragoss" ingest --source "$work/docs.parquet" --quiet >/dev/null || fail "import of the snapshot"
RAGOSS_HOME="$work/fresh" "$ragoss" search "$question" --json --quiet >"$work/fresh.json" || fail "search after import"
cmp -s "$work/warm.json" "$work/fresh.json" || fail "the imported collection answers differently: $(cat "$work/fresh.json" | head -c 400)"
step "snapshot: export + import + search in $(seconds "$started") s, same answers"

head -c 100000 "$work/docs.parquet" >"$work/damaged.parquet"
code=0; RAGOSS_HOME="$work/fresh" "$ragoss" ingest --source "$work/damaged.parquet" 2>"$work/err" >/dev/null || code=$?
[ "$code" = 1 ] && grep -q '^ragoss: error: snapshot .* is damaged' "$work/err" || { cat "$work/err" >&2; fail "a damaged snapshot exited $code"; }
RAGOSS_HOME="$work/fresh" "$ragoss" search "$question" --json --quiet >"$work/after.json" || fail "search after the refused import"
cmp -s "$work/fresh.json" "$work/after.json" || fail "the refused import changed what is served"
step "snapshot: a damaged file refused (exit 1), the previous data still serving"
step "all steps passed"
