#!/usr/bin/env bash
# Installs every Debian package iotconform needs to build, test and report.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev openssl libevent-dev libjansson-dev libcunit1-dev
  libmosquitto-dev mosquitto mosquitto-dev mosquitto-clients
  libcurl4-openssl-dev curl libhttp-parser-dev libwslay-dev
  python3 python3-paho-mqtt
  clang libclang-rt-14-dev lcov yamllint libxml2-utils chromium
  strace dpkg-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# mosquitto's Debian package may start a system broker on 1883; iotconform never uses it.
echo "install-deps: done"
