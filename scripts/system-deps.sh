#!/usr/bin/env bash
# The Debian packages the whole test suite (`make test`) and the README's pictures
# (`make pictures`) need beyond Python, installed when missing.
#
#   root      installs what is missing with apt-get (one `apt-get update`, non-interactive)
#   not root  installs nothing: prints the exact apt-get line to run and exits 1
#   --check   installs nothing, whoever runs it: lists what is missing, exit 1 if anything is
#
# A package counts as present when dpkg says it is installed or its program is on PATH (so a
# tool installed some other way is not installed twice). CI (.ci/run) and `make test` call this.
set -euo pipefail

# package           program or "-" (the package has none: only dpkg can tell)   needed by
PACKAGES=(
  "libreoffice-calc   libreoffice   tests/unit/test_forms.py: a workbook converts to PDF"
  "libreoffice-writer libreoffice   tests/unit/test_forms.py: a report converts to PDF"
  "fonts-noto-cjk     -             Chinese text in the converted PDFs and the UI screenshots"
  "chromium           chromium      tests/e2e/test_ui.py: the Dagster UI in headless Chromium"
  "nginx              nginx         the authenticating proxy in front of the Dagster UI (tests)"
  "openssl            openssl       tests/e2e/test_access.py: the proxy's TLS certificate and password hashes"
  "poppler-utils      pdftoppm      make pictures: PDF pages to PNG; tests/e2e/test_overview.py: pdftotext"
)

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

installed() {  # dpkg's view of one package; false where there is no dpkg
  command -v dpkg-query >/dev/null 2>&1 &&
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

on_path() {
  [ "$1" != "-" ] && command -v "$1" >/dev/null 2>&1
}

missing=()
for line in "${PACKAGES[@]}"; do
  read -r package program _ <<<"$line"
  if ! installed "$package" && ! on_path "$program"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

install_line="apt-get install -y --no-install-recommends ${missing[*]}"
echo "System packages missing for the whole test suite: ${missing[*]}" >&2
if $check_only; then
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "This is not a Debian-like system (no apt-get): install the equivalents of" \
    "${missing[*]} by hand, or run the tests that need none of them with 'make check'." >&2
  exit 1
fi
if [ "$(id -u)" != "0" ]; then
  echo "Not root, so nothing was installed. Run as root, then 'make test' again:" >&2
  echo "  apt-get update && $install_line" >&2
  echo "(or 'make check' for the tests that need none of them)" >&2
  exit 1
fi

echo "Installing ${missing[*]} (Debian packages) …"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# -q, not -qq: LibreOffice and Chromium take minutes, and apt's lines show the progress
# shellcheck disable=SC2086  # one word per package
apt-get install -y -q --no-install-recommends ${missing[*]}
echo "Installed ${missing[*]}."
