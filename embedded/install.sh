#!/usr/bin/env bash
# Install what the embedded platform needs and is missing; a no-op when everything is current.
#   bash embedded/install.sh        (called by `make run`, `make test`, `make install`)
# Debian packages by apt, Python packages into .state/venv by pip, JVM artifacts into
# .state/jars by Maven, the FerretDB launcher into .state/bin by Go. Each step re-runs only
# when its inputs changed (a hash of them is kept in .state/stamps/).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${FLIGHTDELAY_STATE_DIR:-$REPO/.state}"
STAMPS="$STATE/stamps"
APT_PACKAGES=(libkrb5-dev postgresql chromium chromium-driver)  # postgresql: Airflow's and MLflow's metadata, FerretDB's storage; chromium: the browser tests of the web app
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

py_stamp=$(stamp_of "$REPO/requirements.txt" "$REPO/constraints.txt")
if ! is_current python "$py_stamp" || [ ! -x "$STATE/venv/bin/airflow" ]; then
  say "pip: installing requirements.txt into $STATE/venv (first time: several minutes)"
  [ -x "$STATE/venv/bin/python" ] || python3 -m venv "$STATE/venv"
  "$STATE/venv/bin/pip" install --progress-bar off -r "$REPO/requirements.txt" -c "$REPO/constraints.txt" \
    | grep --line-buffered -E '^(Collecting|Successfully)' | sed -u 's/^/  /' || true
  "$STATE/venv/bin/python" -c "import airflow, mlflow, pyspark" || { echo "ERROR: pip install failed" >&2; exit 1; }
  echo "$py_stamp" > "$STAMPS/python"
fi

mvn_stamp=$(stamp_of $(find "$REPO/embedded/maven" -name pom.xml | sort))
if ! is_current maven "$mvn_stamp"; then
  say "maven: fetching JVM artifacts (Kafka, Hadoop, Cassandra, Spark connectors, NiFi) into $STATE/jars"
  rm -rf "$STATE/jars"
  mvn -B -ntp -f "$REPO/embedded/maven/pom.xml" package -Djars.dir="$STATE/jars" > "$STATE/logs/maven.log" 2>&1 \
    || { tail -30 "$STATE/logs/maven.log" >&2; echo "ERROR: maven failed, see $STATE/logs/maven.log" >&2; exit 1; }
  # NiFi's standard processors as a NAR (their own NAR is not served; see embedded/maven/nifi/pom.xml).
  nifi_lib="$STATE/jars/nifi/lib"
  python3 "$REPO/embedded/build_nar.py" --jars "$STATE/jars/nifi-standard-bundle" \
    --parent "$nifi_lib"/nifi-standard-shared-nar-*.nar --parent "$nifi_lib"/nifi-standard-services-api-nar-*.nar \
    --out "$nifi_lib/nifi-standard-nar-$(basename "$nifi_lib"/nifi-standard-shared-nar-*.nar | sed 's/.*-nar-//; s/.nar$//').nar" \
    --group io.github.flightdelay.platform --id nifi-standard-nar \
    --version "$(basename "$nifi_lib"/nifi-standard-shared-nar-*.nar | sed 's/.*-nar-//; s/.nar$//')" | sed 's/^/  /'
  for d in "$STATE"/jars/*/; do say "  $(basename "$d"): $(find "$d" -name '*.jar' -o -name '*.nar' | wc -l) files"; done
  echo "$mvn_stamp" > "$STAMPS/maven"
fi

# Go programs: the FerretDB launcher (the MongoDB-compatible server) and composecheck (the
# compose-go loader the tests use to validate docker-compose.yml without a Docker engine).
for prog in ferretdb:ferretdb-launcher composecheck:composecheck; do
  src="${prog%%:*}"; bin="${prog##*:}"
  go_stamp=$(stamp_of "$REPO/embedded/$src"/*)
  if ! is_current "$src" "$go_stamp" || [ ! -x "$STATE/bin/$bin" ]; then
    say "go: building $bin into $STATE/bin (first time: about a minute)"
    (cd "$REPO/embedded/$src" && GOFLAGS=-mod=readonly go build -o "$STATE/bin/$bin" .)
    echo "$go_stamp" > "$STAMPS/$src"
  fi
done
say "everything installed"
