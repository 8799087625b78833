#!/usr/bin/env bash
# Install the Debian packages svdd needs to build and test (Debian 12 or later), plus any packages
# named as arguments: the extra tools of one check (scripts/test.sh with SVDD_TSAN=1,
# scripts/analyze.sh, fuzz/run.sh) pass theirs here. Only what is not installed yet is installed,
# with sudo when not root.
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev libpng-dev libjpeg-dev zlib1g-dev
          libcjson-dev libcmocka-dev liblapacke-dev libcairo2-dev fonts-dejavu-core python3 "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
