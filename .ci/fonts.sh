#!/usr/bin/env bash
# The CJK extra for the slip (I1): Debian's fonts-noto-cjk, whose Noto Sans CJK prints Chinese,
# Japanese and Korean names (kiosk.slip.pdf.DEFAULT_FONTS). Without it those tests skip; CI
# installs it so they run. Regular and bold only (fonts-noto-cjk-extra's other weights are not
# used). Skipped when already installed, to keep CI short. Runs as root.
set -euo pipefail
if [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null
echo "fonts.sh: fonts-noto-cjk installed" >&2
