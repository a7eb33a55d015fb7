#!/usr/bin/env bash
# A real CUPS server with a cups-pdf queue, for the print tests (R14, O2).
#
#   bash .ci/cups.sh          install if missing, start cupsd, add queue kiosk-pdf, print env lines
#   bash .ci/cups.sh stop     stop the cupsd this script started
#
# Runs as root. Services do not start on their own here (no systemd), so the script starts cupsd
# itself and keeps its process id in $PIDFILE. The last lines on stdout are the variables the
# tests read, e.g.:  eval "$(bash .ci/cups.sh | grep '^export ')"
set -euo pipefail

QUEUE=${KIOSK_CUPS_QUEUE:-kiosk-pdf}
PIDFILE=/run/kiosk-ci-cupsd.pid
LOG=/tmp/kiosk-ci-cupsd.log

say() { echo "cups.sh: $*" >&2; }

stop_cupsd() {
    if [[ -s $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        kill "$(cat "$PIDFILE")"
        for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
        say "cupsd stopped"
    else
        say "no cupsd started by this script is running"
    fi
    rm -f "$PIDFILE"
}

if [[ ${1:-} == stop ]]; then
    stop_cupsd
    exit 0
fi

if [[ $(id -u) != 0 ]]; then
    say "must run as root (it installs packages and starts cupsd)"
    exit 1
fi

# 1. Packages, only when missing. On Debian 12 the cups-pdf backend is printer-driver-cups-pdf.
missing=()
command -v lp >/dev/null || missing+=(cups-client)
command -v cupsd >/dev/null || missing+=(cups)
dpkg -s printer-driver-cups-pdf >/dev/null 2>&1 || missing+=(printer-driver-cups-pdf)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update only when the package lists are missing or stale (the install fails).
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# 2. cupsd, started here unless it already answers.
if ! lpstat -r 2>/dev/null | grep -q "is running"; then
    mkdir -p /run/cups
    setsid cupsd -f >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
        lpstat -r 2>/dev/null | grep -q "is running" && break
        sleep 0.1
    done
    if ! lpstat -r 2>/dev/null | grep -q "is running"; then
        say "cupsd did not start; its log:"
        cat "$LOG" >&2 || true
        exit 1
    fi
fi
say "$(lpstat -r)"

# 3. The cups-pdf queue. Its PPD is found through lpinfo rather than guessed.
if ! lpstat -p "$QUEUE" >/dev/null 2>&1; then
    model=$(lpinfo -m 2>/dev/null | awk 'tolower($0) ~ /cups-pdf/ {print $1; exit}')
    if [[ -z $model ]]; then
        say "no cups-pdf driver in 'lpinfo -m'"
        exit 1
    fi
    lpadmin -p "$QUEUE" -E -v cups-pdf:/ -m "$model"
    say "added queue $QUEUE (model $model)"
fi
# cups-pdf takes PostScript only, so CUPS turns the slip into PostScript first. Its default
# renderer (Ghostscript) redraws the slip's embedded TrueType text as Type 3 glyphs with no
# Unicode map: the page looks right but its words can no longer be read back, and the test checks
# the printed PINs and expiry by reading them. pdftocairo (poppler-utils, a cups-filters
# dependency) keeps the fonts and their text. Set on every run: the queue may already exist.
lpadmin -p "$QUEUE" -o pdftops-renderer-default=pdftocairo
cupsenable "$QUEUE"
cupsaccept "$QUEUE"

# 4. Where cups-pdf writes: "Out" for a known local user (root here), AnonDirName otherwise.
conf=/etc/cups/cups-pdf.conf
out=$(awk '$1 == "Out" {print $2}' "$conf" 2>/dev/null | tail -n1)
out=${out:-'${HOME}/PDF'}
user_home=$(getent passwd "$(id -un)" | cut -d: -f6)
out=${out//'${HOME}'/$user_home}
out=${out//'${USER}'/$(id -un)}
mkdir -p "$out"

echo "export KIOSK_TEST_CUPS_PRINTER=$QUEUE"
echo "export KIOSK_TEST_CUPS_OUTPUT=$out"
