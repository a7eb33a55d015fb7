#!/usr/bin/env bash
# Debian's chromium for the parents' page tests in a real browser (P4). Playwright drives this
# system browser (tests/test_portal_browser.py); no browser is downloaded. Runs as root.
set -euo pipefail
if command -v chromium >/dev/null; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium.sh: $(chromium --version 2>/dev/null || echo 'chromium installed')" >&2
