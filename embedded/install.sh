#!/usr/bin/env bash
# Install what the embedded platform needs and is missing; a no-op when everything is current.
#   bash embedded/install.sh [--test]   (`make run` and `make install`; `make test` adds --test)
# Debian packages by apt, Python packages into .state/venv by uv (pip if uv is unavailable), JVM
# artifacts into .state/jars by Maven, the FerretDB launcher into .state/bin by Go; Maven and Go
# run beside the Python install. --test adds what only the tests use: Chromium and its driver,
# and composecheck. Each step re-runs only when its inputs changed (hashes in .state/stamps/).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${FLIGHTDELAY_STATE_DIR:-$REPO/.state}"
STAMPS="$STATE/stamps"
# libkrb5-dev: the HDFS provider builds krb5/gssapi from source; postgresql: Airflow's and
# MLflow's metadata and FerretDB's storage; chromium: the web app's browser tests (--test).
APT_PACKAGES=(libkrb5-dev postgresql python3-venv)
GO_PROGRAMS=(ferretdb:ferretdb-launcher)
if [ "${1:-}" = "--test" ]; then
  APT_PACKAGES+=(chromium chromium-driver)
  GO_PROGRAMS+=(composecheck:composecheck)
fi
mkdir -p "$STAMPS" "$STATE/logs"

say() { printf '[install %4ss] %s\n' "$SECONDS" "$*"; }
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
is_current() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }

for tool in java mvn go python3; do
  command -v "$tool" >/dev/null || { echo "ERROR: $tool is not installed; this machine kind ships it" >&2; exit 1; }
done

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

install_maven() {
  local mvn_stamp
  mvn_stamp=$(stamp_of $(find "$REPO/embedded/maven" -name pom.xml | sort))
  is_current maven "$mvn_stamp" && return 0
  say "maven: fetching JVM artifacts (Kafka, Hadoop, Cassandra, Spark connectors, NiFi) into $STATE/jars"
  rm -rf "$STATE/jars"
  mvn -B -ntp -f "$REPO/embedded/maven/pom.xml" package -Djars.dir="$STATE/jars" > "$STATE/logs/maven.log" 2>&1 \
    || { tail -30 "$STATE/logs/maven.log" >&2; echo "ERROR: maven failed, see $STATE/logs/maven.log" >&2; return 1; }
  # NiFi's standard processors as a NAR (their own NAR is not served; see embedded/maven/nifi/pom.xml).
  local nifi_lib="$STATE/jars/nifi/lib" version
  version=$(basename "$nifi_lib"/nifi-standard-shared-nar-*.nar | sed 's/.*-nar-//; s/.nar$//')
  python3 "$REPO/embedded/build_nar.py" --jars "$STATE/jars/nifi-standard-bundle" \
    --parent "$nifi_lib"/nifi-standard-shared-nar-*.nar --parent "$nifi_lib"/nifi-standard-services-api-nar-*.nar \
    --out "$nifi_lib/nifi-standard-nar-$version.nar" --group io.github.flightdelay.platform --id nifi-standard-nar \
    --version "$version" | sed 's/^/  /'
  for d in "$STATE"/jars/*/; do say "  $(basename "$d"): $(find "$d" -name '*.jar' -o -name '*.nar' | wc -l) files"; done
  echo "$mvn_stamp" > "$STAMPS/maven"
}

# NiFi's login for the embedded platform (embedded/nifi-login), compiled against the NiFi jars
# just fetched: NiFi's own single-user NAR is not served by the registry. NiFi 2 needs Java 21+.
install_nifi_login() {
  local lib="$STATE/jars/nifi/lib" src="$REPO/embedded/nifi-login" out stamp jdk build
  out="$lib/flightdelay-nifi-login-nar-1.0.0.nar"
  stamp=$(stamp_of $(find "$src" -type f | sort))
  is_current nifi-login "$stamp" && [ -f "$out" ] && return 0
  jdk=$(cd "$REPO" && python3 -c 'from embedded.settings import find_jdk; print(find_jdk(21))')
  say "javac: building NiFi's single-user login into $(basename "$out") with $jdk"
  build=$(mktemp -d)
  "$jdk/bin/javac" --release 21 -cp "$(ls "$lib"/nifi-framework-api-*.jar):$(ls "$lib"/nifi-api-*.jar)" \
    -d "$build/classes" $(find "$src/src" -name '*.java') || { echo "ERROR: javac of embedded/nifi-login failed" >&2; return 1; }
  cp -r "$src/resources/." "$build/classes/"
  mkdir -p "$build/jars"
  "$jdk/bin/jar" --create --file "$build/jars/flightdelay-nifi-login-1.0.0.jar" -C "$build/classes" .
  python3 "$REPO/embedded/build_nar.py" --jars "$build/jars" --out "$out" --group io.github.flightdelay.platform \
    --id flightdelay-nifi-login-nar --version 1.0.0 | sed 's/^/  /'
  rm -rf "$build"
  echo "$stamp" > "$STAMPS/nifi-login"
}

# Go programs: the FerretDB launcher (the MongoDB-compatible server) and composecheck (the
# compose-go loader the tests use to validate docker-compose.yml without a Docker engine).
install_go() {
  local prog src bin go_stamp
  for prog in "${GO_PROGRAMS[@]}"; do
    src="${prog%%:*}"; bin="${prog##*:}"
    go_stamp=$(stamp_of "$REPO/embedded/$src"/*)
    if ! is_current "$src" "$go_stamp" || [ ! -x "$STATE/bin/$bin" ]; then
      say "go: building $bin into $STATE/bin (first time: about a minute)"
      (cd "$REPO/embedded/$src" && GOFLAGS=-mod=readonly go build -o "$STATE/bin/$bin" .) \
        || { echo "ERROR: go build of $bin failed" >&2; return 1; }
      echo "$go_stamp" > "$STAMPS/$src"
    fi
  done
}

# Maven and Go fetch and build beside the Python install (each mostly waits on downloads).
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT  # a failed step stops the others
{ install_maven && install_nifi_login; } & maven_pid=$!
install_go & go_pid=$!

# uv installs the same pinned set as pip with the same constraints, about 2.4 times faster here
# (docs/benchmarks.md); pip is the fallback.
UV_VERSION=0.13.8
# Started by root, the web app runs as an unprivileged account (embedded/settings.py), which must
# be able to run the venv's interpreter: Debian's, not one under root's home (pyenv's).
base_python=$(command -v python3)
[ "$(id -u)" = 0 ] && [ -x /usr/bin/python3 ] && base_python=/usr/bin/python3
py_stamp=$( (cat "$REPO/requirements.txt" "$REPO/constraints.txt"; echo "$base_python") | sha256sum | cut -d' ' -f1)
if ! is_current python "$py_stamp" || [ ! -x "$STATE/venv/bin/airflow" ]; then
  if [ -x "$STATE/venv/bin/python" ] && [ "$(readlink -f "$STATE/venv/bin/python")" != "$(readlink -f "$base_python")" ]; then
    say "python: the venv is rebuilt on $base_python"
    rm -rf "$STATE/venv"
  fi
  [ -x "$STATE/venv/bin/python" ] || "$base_python" -m venv "$STATE/venv"
  if "$STATE/venv/bin/python" -m pip install -q "uv==$UV_VERSION" 2>/dev/null; then
    say "uv: installing requirements.txt into $STATE/venv (first time: two to three minutes)"
    "$STATE/venv/bin/uv" pip install --python "$STATE/venv/bin/python" -r "$REPO/requirements.txt" \
      -c "$REPO/constraints.txt" 2>&1 | grep --line-buffered -vE '^ [+-] ' | sed -u 's/^/  /' || true
  else
    say "pip: installing requirements.txt into $STATE/venv (uv not available; first time: about six minutes)"
    "$STATE/venv/bin/pip" install --progress-bar off -r "$REPO/requirements.txt" -c "$REPO/constraints.txt" \
      | grep --line-buffered -E '^(Collecting|Successfully)' | sed -u 's/^/  /' || true
  fi
  "$STATE/venv/bin/python" -c "import airflow, mlflow, pyspark" || { echo "ERROR: the Python install failed" >&2; exit 1; }
  echo "$py_stamp" > "$STAMPS/python"
fi

status=0
wait "$maven_pid" || status=1
wait "$go_pid" || status=1
[ "$status" = 0 ] || { echo "ERROR: the install failed (above)" >&2; exit 1; }
say "everything installed"
