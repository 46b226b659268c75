#!/usr/bin/env bash
# The test command: installs the test references (Node.js and the npm packages in tests/reference), then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/reference/setup.sh
dotnet test "$@"
