#!/usr/bin/env bash
# Installs the test references: Node.js (Debian's nodejs + npm when missing) and the npm packages in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm from Debian" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json .installed-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json .installed-lock
fi
node -e 'require("fs").accessSync("node_modules/@huggingface/jinja/package.json")'
