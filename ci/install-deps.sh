#!/usr/bin/env bash
# Installs every Debian package iotconform needs to build, test and report, and the
# pinned npm packages of the AWS SDK certification adapters.
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
# Node.js runs the AWS SDK device programs (fixtures/adapters/aws-sdk). A machine whose
# node comes from elsewhere (e.g. a nodejs package that bundles npm and conflicts with
# Debian's npm) keeps it: Debian's packages only fill in what is missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present, node $(node --version), npm $(npm --version)"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # mosquitto's Debian package may start a system broker on 1883; iotconform never uses it.
fi

# The AWS SDKs the certification adapters drive, at the versions package-lock.json pins
# (aws-crt ships its native binary inside the npm package). Reinstalled only when
# node_modules is missing or the lockfile changed since the last install.
sdk_dir="$(cd "$(dirname "$0")/.." && pwd)/fixtures/adapters/aws-sdk"
stamp="$sdk_dir/node_modules/.iotconform-lock.sha256"
want="$(sha256sum "$sdk_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-deps: npm ci in fixtures/adapters/aws-sdk"
  if ! (cd "$sdk_dir" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "install-deps: npm ci failed in $sdk_dir: the AWS SDK adapters cannot run" >&2
    exit 1
  fi
  if ! (cd "$sdk_dir" && node -e "require('aws-crt'); require('aws-iot-device-sdk-v2'); require('aws-iot-device-sdk')"); then
    echo "install-deps: the AWS SDKs do not load in $sdk_dir (aws-crt's native binary?)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
echo "install-deps: done"
