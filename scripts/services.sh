#!/usr/bin/env bash
# Make sure the services the tests need are running:
#   PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), Redis on 127.0.0.1:6379,
#   and Debian's Chromium at /usr/bin/chromium (the /docs page is opened in it).
# Installs what is missing from Debian's packages, starts what is stopped, then
# prints one line per service. Idempotent: running services are left alone.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379
WAIT_SECONDS=60
APT_UPDATED=0

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
die() { echo "services.sh: $*" >&2; exit 1; }

apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null
}

# wait_for DESCRIPTION COMMAND...: retry COMMAND for up to WAIT_SECONDS.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what not ready after ${WAIT_SECONDS}s"
    sleep 0.5
  done
}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
pg_trusts() {
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -Atqc 'select 1' >/dev/null 2>&1
}
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

pg_version() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | head -1)
  [ -n "$version" ] || die "no PostgreSQL cluster under /etc/postgresql"
  echo "$version"
}

# Let user postgres in from 127.0.0.1 without a password (first matching line wins).
pg_allow_trust() {
  local version hba
  version=$(pg_version)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

ensure_postgres() {
  local state=running
  if pg_up && pg_trusts; then
    echo "postgresql: $state on $PG_HOST:$PG_PORT"
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null || ! command -v psql >/dev/null; then
    apt_install postgresql
    state="installed and started"
  fi
  if ! pg_up; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start || true
    [ "$state" = running ] && state=started
  fi
  wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_up
  if ! pg_trusts; then
    pg_allow_trust
    state="$state, trust auth enabled"
  fi
  wait_for "PostgreSQL login as postgres (trust)" pg_trusts
  echo "postgresql: $state on $PG_HOST:$PG_PORT"
}

ensure_redis() {
  local state=running
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server
    state=installed
  fi
  if ! redis_up; then
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    state=$([ "$state" = installed ] && echo "installed and started" || echo started)
  fi
  wait_for "Redis on 127.0.0.1:$REDIS_PORT" redis_up
  echo "redis: $state on 127.0.0.1:$REDIS_PORT"
}

# The browser the /docs test drives (through the playwright package; never `playwright install`).
ensure_chromium() {
  local state=present
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
    state=installed
  fi
  echo "chromium: $state at /usr/bin/chromium"
}

ensure_postgres
ensure_redis
ensure_chromium
