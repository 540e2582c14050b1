#!/usr/bin/env bash
# The signature demo: mount a 4-chunkserver cluster, copy files in, kill -9 a
# chunkserver, watch the master re-replicate every chunk back to its goal, and read
# everything back bit-exact. Usage: scripts/demo-heal.sh [SIZE_MIB] (default 512).
# Set SCREENSHOT=path.png to capture the dashboard mid-heal (needs chromium).
set -euo pipefail
SIZE_MIB=${1:-512}
BIN=${BIN:-$(dirname "$0")/../target/debug/ferrofs}
BIN=$(realpath "$BIN")
WORK=$(mktemp -d /var/tmp/ferrofs-demo.XXXXXX)
cleanup() {
  [ -n "${UP_PID:-}" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN" up --dir "$WORK/data" --mount "$WORK/mnt" --chunkservers 4 --port 0 --dead-timeout 5s >"$WORK/up.out" 2>&1 &
UP_PID=$!
for _ in $(seq 300); do grep -q "Ctrl-C" "$WORK/up.out" 2>/dev/null && break; sleep 0.2; done
cat "$WORK/up.out"
URL=$(awk '/master:/ {print $2}' "$WORK/up.out")
export FERROFS_MASTER=$URL
status() { "$BIN" admin status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); c=s["chunks"]; print(c["total"], c["under_replicated"], c["missing"], s["rereplication"]["bytes_copied"])'; }

echo "--- writing ${SIZE_MIB} MiB in 8 files through the mount"
mkdir -p "$WORK/src"
for i in $(seq 8); do head -c $((SIZE_MIB * 1024 * 1024 / 8)) /dev/urandom >"$WORK/src/file$i"; done
cp -r "$WORK/src" "$WORK/mnt/demo"
(cd "$WORK/src" && sha256sum file*) >"$WORK/sums"
"$BIN" admin status
VICTIM=$("$BIN" admin status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunkservers"][0]["id"])')
PID=$(pgrep -f "chunkserver .*--data $WORK/data/cs0" || true)
[ -z "$PID" ] && PID=$(for p in $(pgrep -f "ferrofs chunkserver"); do grep -qa "$WORK/data/cs0" /proc/$p/cmdline && echo $p; done | head -1)
echo "--- kill -9 chunkserver cs0 (pid $PID)"
kill -9 "$PID"
T0=$(date +%s.%N)
SHOT_DONE=0
while true; do
  read -r total under missing copied < <(status)
  printf '\r%6.1fs  chunks %s  under-replicated %s  missing %s  restored %s MiB   ' \
    "$(echo "$(date +%s.%N) - $T0" | bc)" "$total" "$under" "$missing" $((copied / 1048576))
  if [ -n "${SCREENSHOT:-}" ] && [ "$SHOT_DONE" = 0 ] && [ "$under" -gt 0 ]; then
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --user-data-dir="$WORK/chr" --window-size=1280,1000 \
      --virtual-time-budget=1500 --screenshot="$SCREENSHOT" "$URL/" >/dev/null 2>&1 || true
    SHOT_DONE=1
  fi
  [ "$under" = 0 ] && [ "$missing" = 0 ] && [ "$copied" -gt 0 ] && break
  sleep 0.2
done
T1=$(date +%s.%N)
echo
echo "--- healed in $(echo "$T1 - $T0" | bc) s after the kill (dead timeout 5 s)"
echo "--- reading everything back"
(cd "$WORK/mnt/demo" && sha256sum -c "$WORK/sums")
"$BIN" admin status
