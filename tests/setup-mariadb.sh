#!/usr/bin/env bash
# Installs and starts MariaDB on a fresh Debian machine (as root) and creates the account the
# tests and the demo use: oemr_doctor / oemr_doctor on 127.0.0.1:3306, allowed to create and
# drop the scratch databases they work in (and, for the secrets test, accounts of their
# own). Safe to run again.
set -euo pipefail

if ! command -v mariadbd >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server
fi

if ! mariadb-admin ping --silent >/dev/null 2>&1; then
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  (mariadbd --user=mysql --bind-address=127.0.0.1 >/tmp/oemr-doctor-mariadb.log 2>&1 &)
  for _ in $(seq 1 60); do
    mariadb-admin ping --silent >/dev/null 2>&1 && break
    sleep 1
  done
  mariadb-admin ping --silent >/dev/null 2>&1 || {
    echo "MariaDB did not start; see /tmp/oemr-doctor-mariadb.log" >&2
    exit 1
  }
fi

# On a fresh Debian install root logs in through the unix socket only, so this runs as root.
mariadb <<'SQL'
CREATE USER IF NOT EXISTS 'oemr_doctor'@'127.0.0.1' IDENTIFIED BY 'oemr_doctor';
CREATE USER IF NOT EXISTS 'oemr_doctor'@'localhost' IDENTIFIED BY 'oemr_doctor';
GRANT ALL PRIVILEGES ON *.* TO 'oemr_doctor'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'oemr_doctor'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
echo "MariaDB is up; tests use mysql://oemr_doctor:oemr_doctor@127.0.0.1:3306"
