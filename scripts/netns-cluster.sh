#!/usr/bin/env bash
# A ferrofs cluster across network namespaces: every node on a "host" of its own.
#
# Each node (m1.. masters, c1.. chunkservers, k1.. clients) is a network namespace
# ff<N>-<node> with one interface, eth0 = 198.18.<N>.<x>/24 (masters .11.., chunkservers
# .21.., clients .41..), whose veth peer is a port of bridge br0 in namespace ffb<N>.
# The host (root namespace) joins the bridge too, as 198.18.<N>.1 on interface ffh<N>,
# so tools and tests on the host reach every node. Each node's namespace has an
# nftables table `inet ferrofs` (chains input/output) where partitions and packet loss
# are rules; `heal` flushes them. Processes enter a node with `nsenter --net=` only (not
# `ip netns exec`, which also makes a private mount namespace), so a FUSE mount made in
# a client namespace is visible from the host.
#
# For people (net 0, 3 masters + 4 chunkservers + a mount at $DIR/mnt):
#   scripts/netns-cluster.sh up            # network, processes, mount
#   scripts/netns-cluster.sh up --tls      # the same with mutual TLS on every link: a
#                                          # cluster CA and one certificate per node
#                                          # (docs/DEPLOY.md, TLS), in $DIR/tls
#   scripts/netns-cluster.sh status        # the leader's admin status
#   scripts/netns-cluster.sh partition m1 -- m2 m3 c1 c2 c3 c4 host
#   scripts/netns-cluster.sh loss c1 2     # drop 2% of packets arriving at c1
#   scripts/netns-cluster.sh heal
#   scripts/netns-cluster.sh down          # processes, mount and network gone
# Building blocks (the Rust test harness, tests/common/netns.rs, calls these):
#   net-up N NODE...      net-down N      cut N A... -- B...      heal N
#   loss N NODE PERCENT   ip N NODE       ns N NODE
# Needs root, iproute2 and nftables (scripts/install-deps.sh). Addresses come from
# 198.18.0.0/15 (RFC 2544, benchmarking), never from the private ranges.
set -euo pipefail

ip_of() { # N NODE
  local n=$1 node=$2
  case $node in
    host) echo "198.18.$n.1" ;;
    m[0-9]*) echo "198.18.$n.$((10 + ${node#m}))" ;;
    c[0-9]*) echo "198.18.$n.$((20 + ${node#c}))" ;;
    k[0-9]*) echo "198.18.$n.$((40 + ${node#k}))" ;;
    *) echo "unknown node '$node' (host, mI, cI, kI)" >&2; return 1 ;;
  esac
}

ns_of() { echo "ff$1-$2"; }

owner_file() { echo "/run/ferrofs-netns/$1.owner"; }

# Nodes of net N (namespaces ff<N>-*).
nodes_of() {
  ip netns list | awk '{print $1}' | sed -n "s/^ff$1-//p"
}

node_up() { # N NODE
  local n=$1 node=$2 ns
  ns=$(ns_of "$n" "$node")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name "$node" netns "ffb$n"
  ip -n "$ns" addr add "$(ip_of "$n" "$node")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "ffb$n" link set "$node" master br0 up
  ip netns exec "$ns" nft -f - <<'EOF'
table inet ferrofs {
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
}
EOF
}

# Claims and removals of networks take one lock, held until this script exits: tests
# of one binary claim at once from the same start, and without it a claim could find a
# net just made, see no owner yet, and tear it down as left behind.
LOCKED=
lock_nets() {
  [ -z "$LOCKED" ] || return 0
  mkdir -p /run/ferrofs-netns
  exec 9>/run/ferrofs-netns/lock
  flock 9
  LOCKED=1
}

# net-up N NODE...: exit 3 if net N is taken by a live owner.
net_up() {
  local n=$1 owner
  shift
  lock_nets
  if ! ip netns add "ffb$n" 2>/dev/null; then
    owner=$(cat "$(owner_file "$n")" 2>/dev/null || echo 0)
    if [ "$owner" != 0 ] && kill -0 "$owner" 2>/dev/null; then
      return 3
    fi
    net_down "$n" # left behind by an owner that died
    ip netns add "ffb$n" || return 3
  fi
  echo "${FERROFS_NETNS_OWNER:-$PPID}" >"$(owner_file "$n")"
  ip -n "ffb$n" link add br0 type bridge
  ip -n "ffb$n" link set br0 up
  ip link del "ffh$n" 2>/dev/null || true
  ip link add "ffh$n" type veth peer name host netns "ffb$n"
  ip addr add "198.18.$n.1/24" dev "ffh$n"
  ip link set "ffh$n" up
  ip -n "ffb$n" link set host master br0 up
  local node
  for node in "$@"; do node_up "$n" "$node"; done
}

net_down() { # N
  local n=$1 node
  lock_nets
  for node in $(nodes_of "$n"); do ip netns del "$(ns_of "$n" "$node")" 2>/dev/null || true; done
  ip netns del "ffb$n" 2>/dev/null || true
  ip link del "ffh$n" 2>/dev/null || true
  rm -f "$(owner_file "$n")"
}

# Rules in NODE's namespace dropping every packet to or from the addresses given.
drop_peers() { # N NODE ADDR...
  local n=$1 node=$2 set
  shift 2
  [ "$node" = host ] && return 0 # the other side's rules cut the host's links
  [ $# -eq 0 ] && return 0
  set=$(IFS=,; echo "$*")
  ip netns exec "$(ns_of "$n" "$node")" nft -f - <<EOF
add rule inet ferrofs input ip saddr { $set } drop
add rule inet ferrofs output ip daddr { $set } drop
EOF
}

# cut N A... -- B...: no packet passes between a node of A and a node of B.
cut() {
  local n=$1 side=a x
  shift
  local a=() b=() aip=() bip=()
  for x in "$@"; do
    if [ "$x" = -- ]; then side=b
    elif [ $side = a ]; then a+=("$x"); aip+=("$(ip_of "$n" "$x")")
    else b+=("$x"); bip+=("$(ip_of "$n" "$x")"); fi
  done
  [ ${#a[@]} -gt 0 ] && [ ${#b[@]} -gt 0 ] || { echo "usage: cut N A... -- B..." >&2; return 2; }
  for x in "${a[@]}"; do drop_peers "$n" "$x" "${bip[@]}"; done
  for x in "${b[@]}"; do drop_peers "$n" "$x" "${aip[@]}"; done
}

heal() { # N
  local n=$1 node
  for node in $(nodes_of "$n"); do
    ip netns exec "$(ns_of "$n" "$node")" nft -f - <<'EOF'
flush chain inet ferrofs input
flush chain inet ferrofs output
EOF
  done
}

loss() { # N NODE PERCENT: drop PERCENT% of the packets arriving at NODE
  ip netns exec "$(ns_of "$1" "$2")" nft add rule inet ferrofs input numgen random mod 100 '<' "$3" drop
}

# ---- The cluster for people (net 0) ----

NET=0
DIR=${FERROFS_NETNS_DIR:-/tmp/ferrofs-netns}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FERROFS_BIN:-$ROOT/target/debug/ferrofs}
export FERROFS_SECRET=${FERROFS_SECRET:-netns-secret}
MASTERS=(m1 m2 m3)
CHUNKSERVERS=(c1 c2 c3 c4)

# With TLS (`up --tls`, remembered in $DIR/tls/on) every node gets --tls $DIR/tls/NODE.
tls_on() { [ -f "$DIR/tls/on" ]; }
scheme() { if tls_on; then echo https; else echo http; fi; }
tls_args() { # NODE
  if tls_on; then echo "--tls $DIR/tls/$1"; fi
}

make_tls() { # the steps of docs/DEPLOY.md (TLS): a cluster CA, a certificate per node
  local n
  mkdir -p "$DIR/tls"
  "$BIN" ca init "$DIR/tls/ca" >/dev/null
  for n in "${MASTERS[@]}" "${CHUNKSERVERS[@]}" k1 host; do
    "$BIN" ca issue "$DIR/tls/ca" "$DIR/tls/$n" --name "$n" --host "$(ip_of $NET "$n")" >/dev/null
  done
  touch "$DIR/tls/on"
}

start_in() { # NODE LOG ARGS...
  local node=$1 log=$2
  shift 2
  # shellcheck disable=SC2046 # tls_args is empty or two words
  nsenter --net="/run/netns/$(ns_of $NET "$node")" "$BIN" "$@" $(tls_args "$node") \
    >>"$log" 2>&1 </dev/null &
  echo $! >>"$DIR/pids"
}

master_urls() {
  local m out=()
  for m in "${MASTERS[@]}"; do out+=("$(scheme)://$(ip_of $NET "$m"):9000"); done
  (IFS=,; echo "${out[*]}")
}

# A tool run on the host (with the host's certificate under TLS).
host_tool() {
  # shellcheck disable=SC2046
  "$BIN" "$@" --master "$(master_urls)" $(tls_args host)
}

cluster_up() {
  [ -x "$BIN" ] || { echo "no binary at $BIN (cargo build, or set FERROFS_BIN)" >&2; exit 1; }
  mkdir -p "$DIR"
  FERROFS_NETNS_OWNER=0 net_up $NET "${MASTERS[@]}" "${CHUNKSERVERS[@]}" k1 || {
    echo "net $NET exists: run '$0 down' first" >&2; exit 1; }
  rm -rf "$DIR/tls"
  if [ "${1:-}" = --tls ]; then make_tls; fi
  local peers=() i=1 m c
  for m in "${MASTERS[@]}"; do peers+=("$i=$(ip_of $NET "$m"):9000"); i=$((i + 1)); done
  i=1
  for m in "${MASTERS[@]}"; do
    # The steps of docs/DEPLOY.md: the role's file from etc/, the member's flags.
    start_in "$m" "$DIR/$m.log" master --config "$ROOT/etc/master.toml" --id $i \
      --listen "$(ip_of $NET "$m"):9000" --peers "$(IFS=,; echo "${peers[*]}")" --data "$DIR/$m"
    i=$((i + 1))
  done
  i=0
  for c in "${CHUNKSERVERS[@]}"; do
    # Two racks: c1 c2 in rack r1, c3 c4 in rack r2.
    start_in "$c" "$DIR/$c.log" chunkserver --config "$ROOT/etc/chunkserver.toml" \
      --master "$(master_urls)" --listen "$(ip_of $NET "$c"):9100" --data "$DIR/$c" \
      --rack "r$((i / 2 + 1))"
    i=$((i + 1))
  done
  local t=0
  until host_tool admin status >/dev/null 2>&1; do
    t=$((t + 1)); [ $t -lt 60 ] || { echo "the cluster did not come up; logs in $DIR" >&2; exit 1; }
    sleep 1
  done
  mkdir -p "$DIR/mnt"
  start_in k1 "$DIR/k1.log" mount --master "$(master_urls)" "$DIR/mnt"
  t=0
  until mountpoint -q "$DIR/mnt"; do
    t=$((t + 1)); [ $t -lt 300 ] || { echo "the mount did not appear; see $DIR/k1.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "masters: $(master_urls)"
  if tls_on; then echo "TLS: mutual TLS on every link; the host's certificate: $DIR/tls/host"; fi
  echo "mounted at $DIR/mnt (from namespace $(ns_of $NET k1)); logs in $DIR"
}

cluster_down() {
  if mountpoint -q "$DIR/mnt" 2>/dev/null; then umount -l "$DIR/mnt" || true; fi
  if [ -f "$DIR/pids" ]; then
    local p
    while read -r p; do kill "$p" 2>/dev/null || true; done <"$DIR/pids"
    local t=0
    while read -r p; do
      while kill -0 "$p" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
      kill -9 "$p" 2>/dev/null || true
    done <"$DIR/pids"
    rm -f "$DIR/pids"
  fi
  net_down $NET
}

cmd=${1:-}
shift || true
case $cmd in
  net-up) net_up "$@" ;;
  net-down) net_down "$@" ;;
  cut) cut "$@" ;;
  heal) if [ $# -gt 0 ]; then heal "$@"; else heal $NET; fi ;;
  loss) if [ $# -eq 3 ]; then loss "$@"; else loss $NET "$@"; fi ;;
  ip) ip_of "$@" ;;
  ns) ns_of "$@" ;;
  up) cluster_up "$@" ;;
  down) cluster_down ;;
  partition) cut $NET "$@" ;;
  status) host_tool admin status ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
