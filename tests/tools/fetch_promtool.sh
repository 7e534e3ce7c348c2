#!/bin/sh
# fetch_promtool.sh DIR: promtool (Prometheus's checker, used by the metrics tests) from Debian's
# `prometheus` package, unpacked into DIR without installing the package or its service.
# Idempotent and safe to run concurrently; exits non-zero saying why when it cannot.
set -eu
dir=$1
tool="$dir/usr/bin/promtool"
[ -x "$tool" ] && exit 0
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
[ -x "$tool" ] && exit 0
cd "$dir"
rm -f prometheus_*.deb
if ! apt-get download prometheus >download.log 2>&1; then
  # The package lists may be missing or stale on a fresh machine.
  apt-get update -qq >>download.log 2>&1 || true
  if ! apt-get download prometheus >>download.log 2>&1; then
    echo "fetch_promtool: 'apt-get download prometheus' failed:" >&2
    cat download.log >&2
    exit 1
  fi
fi
dpkg -x prometheus_*.deb unpacked
mkdir -p usr/bin
mv unpacked/usr/bin/promtool usr/bin/promtool
rm -rf unpacked prometheus_*.deb
[ -x "$tool" ] || { echo "fetch_promtool: no usr/bin/promtool in the package" >&2; exit 1; }
