# Sourced by scripts/test after scripts/bootstrap.sh; defines 'postgres_start', which starts a
# throw-away PostgreSQL server for the tests and exports its database's URL as
# DANCE_TUTOR_TEST_POSTGRES_URL, and 'postgres_stop', which stops it and deletes its folder.
# The server is Debian's (installed as root where it is missing), its cluster lives in a new
# folder under /tmp, it listens on 127.0.0.1 only, on a free port, with its socket in that folder,
# and trusts its one user, 'tutor'. As root it runs as the 'postgres' user (PostgreSQL refuses to
# run as root). When DANCE_TUTOR_TEST_POSTGRES_URL is already set, that server is used and
# nothing is started. A cluster left running by a killed run is stopped by the next start.
set -euo pipefail
POSTGRES_USER=tutor
POSTGRES_DB=tutor_test
POSTGRES_FOLDERS=/tmp/dance-tutor-postgres
_postgres_dir=""
_postgres_bin=""

# The newest installed server's bin/ folder, or nothing.
_postgres_find_bin() {
  local pg_ctl
  pg_ctl="$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)"
  [ -z "$pg_ctl" ] || [ ! -x "$(dirname "$pg_ctl")/initdb" ] || dirname "$pg_ctl"
}

# Runs a server command as the cluster's owner, in the cluster's folder.
_postgres_as_owner() {
  local folder="$1"
  shift
  if [ "$(id -u)" = 0 ]; then
    (cd "$folder" && runuser -u postgres -- "$@")
  else
    (cd "$folder" && "$@")
  fi
}

_postgres_free_port() {
  "${PYTHON:-python3}" -c 'import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])'
}

# Stops and deletes the clusters of runs that ended without postgres_stop (killed).
_postgres_remove_stale() {
  local folder owner
  for folder in "$POSTGRES_FOLDERS".*; do
    [ -f "$folder/owner" ] && [ -O "$folder/owner" ] || continue
    owner="$(cat "$folder/owner")"
    [ -d "/proc/$owner" ] && continue
    [ -f "$folder/data/postmaster.pid" ] \
      && _postgres_as_owner "$folder" "$_postgres_bin/pg_ctl" stop -s -m immediate \
        -D "$folder/data" >/dev/null 2>&1 || true
    rm -rf "$folder"
  done
}

_postgres_fail() {
  echo "$1" >&2
  if [ -n "$_postgres_dir" ] && [ -f "$_postgres_dir/server.log" ]; then
    tail -n 20 "$_postgres_dir/server.log" >&2
  fi
  exit 1
}

postgres_start() {
  local attempt port
  if [ -n "${DANCE_TUTOR_TEST_POSTGRES_URL:-}" ]; then
    echo "==> PostgreSQL for the tests: using DANCE_TUTOR_TEST_POSTGRES_URL"
    return
  fi
  _postgres_bin="$(_postgres_find_bin)"
  if [ -z "$_postgres_bin" ]; then
    debian_packages "the PostgreSQL test server" postgresql
    _postgres_bin="$(_postgres_find_bin)"
    [ -n "$_postgres_bin" ] || _postgres_fail "Debian's postgresql is installed but no /usr/lib/postgresql/*/bin/pg_ctl was found."
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    _postgres_fail "PostgreSQL cannot run as root and there is no 'postgres' user to run it: reinstall Debian's postgresql-common."
  fi
  _postgres_remove_stale
  _postgres_dir="$(mktemp -d "$POSTGRES_FOLDERS.XXXXXX")"
  echo "$$" > "$_postgres_dir/owner"
  [ "$(id -u)" != 0 ] || chown postgres: "$_postgres_dir"
  echo "==> PostgreSQL for the tests ($("$_postgres_bin/pg_ctl" --version)) in $_postgres_dir"
  _postgres_as_owner "$_postgres_dir" "$_postgres_bin/initdb" -D "$_postgres_dir/data" \
    -U "$POSTGRES_USER" --auth=trust -E UTF8 --locale=C >"$_postgres_dir/initdb.log" 2>&1 \
    || _postgres_fail "initdb failed to create the test cluster in $_postgres_dir/data: $(tail -n 1 "$_postgres_dir/initdb.log")"
  cat >> "$_postgres_dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$_postgres_dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # The free port may be taken between the probe and the server's start: then take another.
  for attempt in 1 2 3 4 5; do
    port="$(_postgres_free_port)"
    rm -f "$_postgres_dir/server.log"
    if _postgres_as_owner "$_postgres_dir" "$_postgres_bin/pg_ctl" start -s -w -t 60 \
        -D "$_postgres_dir/data" -l "$_postgres_dir/server.log" -o "-p $port" >/dev/null 2>&1; then
      break
    fi
    grep -q "could not bind" "$_postgres_dir/server.log" && [ "$attempt" -lt 5 ] \
      || _postgres_fail "The test PostgreSQL server did not start (its log is $_postgres_dir/server.log):"
  done
  for attempt in $(seq 60); do
    "$_postgres_bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    [ "$attempt" -lt 60 ] || _postgres_fail "The test PostgreSQL server on 127.0.0.1:$port accepted no connection within 30 s:"
    sleep 0.5
  done
  "$_postgres_bin/createdb" -h 127.0.0.1 -p "$port" -U "$POSTGRES_USER" "$POSTGRES_DB" \
    || _postgres_fail "Could not create the database $POSTGRES_DB on the test PostgreSQL server on 127.0.0.1:$port."
  export DANCE_TUTOR_TEST_POSTGRES_URL="postgresql://$POSTGRES_USER@127.0.0.1:$port/$POSTGRES_DB"
}

# Never fails, so that it can run from an EXIT trap without changing the exit code.
postgres_stop() {
  [ -n "$_postgres_dir" ] || return 0
  if [ -f "$_postgres_dir/data/postmaster.pid" ]; then
    _postgres_as_owner "$_postgres_dir" "$_postgres_bin/pg_ctl" stop -s -m fast \
      -D "$_postgres_dir/data" || true
  fi
  rm -rf "$_postgres_dir"
  _postgres_dir=""
  unset DANCE_TUTOR_TEST_POSTGRES_URL
}
