#!/usr/bin/env bash
# keycloak-install.sh installs the real Keycloak the SSO and connector tests
# run against (internal/testkc): the org.keycloak:keycloak-quarkus-dist zip
# from Maven Central, pinned by version and SHA-1, on OpenJDK 17 (Debian's
# openjdk-17-jre-headless when no java is on PATH).
#
# Everything goes under ${IPAI_KEYCLOAK_HOME:-~/.cache/ipai/keycloak} (never the
# repo). The script is idempotent: when the install is complete (marker file
# present) it only prints where it is. First run: about 180 MB download and
# one Quarkus build (1-2 minutes).
set -euo pipefail

KC_VERSION=26.7.3
KC_SHA1=1e21a7f572581692aacb379dbba8413f99b67208
KC_HOME=${IPAI_KEYCLOAK_HOME:-$HOME/.cache/ipai/keycloak}
KC_DIR="$KC_HOME/keycloak-$KC_VERSION"
MARKER="$KC_HOME/.installed-keycloak-$KC_VERSION"
URL="https://repo.maven.apache.org/maven2/org/keycloak/keycloak-quarkus-dist/$KC_VERSION/keycloak-quarkus-dist-$KC_VERSION.zip"

if [[ -f "$MARKER" && -x "$KC_DIR/bin/kc.sh" ]] && command -v java >/dev/null 2>&1; then
	echo "keycloak-install: Keycloak $KC_VERSION already installed in $KC_DIR"
	exit 0
fi

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
	echo "keycloak-install: installing ${missing[*]}"
	SUDO=""
	[[ $(id -u) -ne 0 ]] && SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

mkdir -p "$KC_HOME"
zip="$KC_HOME/keycloak-quarkus-dist-$KC_VERSION.zip"
if [[ ! -f "$zip" ]] || ! echo "$KC_SHA1  $zip" | sha1sum -c --quiet - 2>/dev/null; then
	echo "keycloak-install: downloading keycloak-quarkus-dist $KC_VERSION"
	curl -fsSL --retry 3 -o "$zip.part" "$URL"
	echo "$KC_SHA1  $zip.part" | sha1sum -c --quiet - || {
		echo "keycloak-install: checksum mismatch for $URL" >&2
		exit 1
	}
	mv "$zip.part" "$zip"
fi

rm -rf "$KC_DIR" "$KC_HOME/unpack"
mkdir -p "$KC_HOME/unpack"
unzip -q "$zip" -d "$KC_HOME/unpack"
mv "$KC_HOME/unpack/keycloak-$KC_VERSION" "$KC_DIR"
rmdir "$KC_HOME/unpack"
rm -f "$zip"
"$KC_DIR/bin/kc.sh" --version
# Build once (Quarkus augmentation, minutes on a busy machine) the server the
# tests start with `kc.sh start --optimized`: file database, health endpoints.
echo "keycloak-install: kc.sh build --db=dev-file --health-enabled=true"
"$KC_DIR/bin/kc.sh" build --db=dev-file --health-enabled=true
touch "$MARKER"
echo "keycloak-install: done: $KC_DIR"
