#!/usr/bin/env bash
# One command for a demo (P3): kiosk serve on a throwaway training database behind Caddy with a
# local certificate, at https://localhost:8443/register. Prints an API token and PINs to try.
# Needs caddy on the path (apt-get install caddy); without it, serves plain HTTP on 127.0.0.1:8800.
set -euo pipefail
cd "$(dirname "$0")/../.."
kiosk=${KIOSK:-kiosk}
if ! command -v caddy >/dev/null; then
    echo "caddy not found: plain HTTP at http://127.0.0.1:8800/register" >&2
    exec "$kiosk" serve --training
fi
"$kiosk" serve --training --port 8800 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
caddy reverse-proxy --from https://localhost:8443 --to 127.0.0.1:8800 --internal-certs
