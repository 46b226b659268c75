#!/usr/bin/env bash
# Installs the test references: Node.js (Debian's nodejs + npm), headless Chromium (Debian's chromium) and PyTorch
# (Debian's python3-torch, for the PyTorch twin's parity tests) when missing, and the npm packages in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
{ command -v node >/dev/null && command -v npm >/dev/null; } || missing+=(nodejs npm)
{ [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; } || missing+=(chromium)
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json .installed-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json .installed-lock
fi
node -e 'require("fs").accessSync("node_modules/@huggingface/jinja/package.json")'
/usr/bin/python3 -c 'import torch, torch.distributed; assert torch.distributed.is_available()'
