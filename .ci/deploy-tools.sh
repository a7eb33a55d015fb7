#!/usr/bin/env bash
# The tools the deployment tests drive (D1, services): OpenSSH's server and client for the desk-over-SSH
# test, and systemd-analyze for the unit files' syntax check. Installed, never started: a policy-rc.d
# stops the packages' scripts from starting sshd on port 22 (the test starts its own on loopback).
set -euo pipefail
need=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ "$made_policy" = 1 ] && rm -f "$policy"
fi
mkdir -p /run/sshd  # sshd's privilege-separation directory
echo "deploy-tools: $(/usr/sbin/sshd -V 2>&1 | head -1); $(systemd-analyze --version | head -1)"
