#!/bin/sh
# Installs Debian's Chromium and Firefox ESR when they are missing or too old for Playwright's
# Firefox (WebDriver BiDi) support, which needs ESR 153 or newer. Needs root; otherwise prints the
# one command to run and exits 3 (flakehunt's "environment is missing something").
set -eu
MIN_FIREFOX=153

firefox_major() {
    firefox-esr --version 2>/dev/null | sed -n 's/^Mozilla Firefox \([0-9]*\).*/\1/p'
}

need=""
command -v chromium >/dev/null 2>&1 || need="chromium"
major=$(firefox_major || true)
if [ -z "$major" ] || [ "$major" -lt "$MIN_FIREFOX" ]; then
    need="$need firefox-esr"
fi
[ -z "$need" ] && exit 0

command="apt-get update && apt-get install -y chromium firefox-esr"
if [ "$(id -u)" -ne 0 ]; then
    echo "flakehunt: error: missing browsers ($need); run: sudo sh -c '$command'" >&2
    exit 3
fi
echo "installing Debian's$need ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium firefox-esr >/dev/null
major=$(firefox_major || true)
if [ -z "$major" ] || [ "$major" -lt "$MIN_FIREFOX" ]; then
    echo "flakehunt: error: firefox-esr $major is installed but Playwright needs ESR $MIN_FIREFOX or newer" >&2
    exit 3
fi
