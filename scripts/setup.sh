#!/usr/bin/env bash
# Installs everything needed to build the project and to run the local stack
# (scripts/stack): Debian packages, the Kafka jars from Maven Central, a
# FerretDB binary built from its Go module, and from npm the Swagger UI files
# the API serves plus puppeteer-core for its browser check.
#
# Idempotent: every step first checks whether its result is already there, so a
# second run only checks and takes a few seconds.
#
# Environment:
#   CES_TOOLS   machine-wide tool cache (default /opt/casper-event-store/tools);
#               survives fresh clones of the repository.
#   GO          Go toolchain to use (default: /usr/local/go/bin/go, else `go` on PATH).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CES_TOOLS="${CES_TOOLS:-/opt/casper-event-store/tools}"

log()  { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
set -E
trap 'printf "[setup] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

[ -f "$REPO_ROOT/versions.env" ] || fail "missing $REPO_ROOT/versions.env"
# shellcheck disable=SC1091
. "$REPO_ROOT/versions.env"
for v in KAFKA_VERSION KAFKA_SCALA_VERSION SLF4J_RELOAD4J_VERSION FERRETDB_VERSION POSTGRES_MAJOR; do
    [ -n "${!v:-}" ] || fail "versions.env does not set $v"
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# --------------------------------------------------------------------------
# 1. Debian packages
# --------------------------------------------------------------------------
APT_PACKAGES=(
    g++ cmake ninja-build pkg-config clang libclang-rt-14-dev
    librdkafka-dev libmongoc-dev libbson-dev libpq-dev libpqxx-dev
    libcurl4-openssl-dev libboost-dev libboost-system-dev libsimdjson-dev
    nlohmann-json3-dev libcli11-dev
    libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
    "postgresql-${POSTGRES_MAJOR}" "postgresql-client-${POSTGRES_MAJOR}"
    zookeeper openjdk-17-jre-headless kcat maven curl netcat-openbsd python3
    zlib1g-dev ccache wrk shellcheck pgbackrest
    nodejs chromium
)

missing_packages() {
    local p status
    for p in "${APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
        [ "$status" = "install ok installed" ] || printf '%s\n' "$p"
    done
}

mapfile -t MISSING < <(missing_packages)
if [ "${#MISSING[@]}" -eq 0 ]; then
    log "apt: all ${#APT_PACKAGES[@]} packages already installed"
else
    log "apt: installing ${MISSING[*]}"
    # The local stack runs its own PostgreSQL clusters; keep the Debian package
    # from creating (and starting) a default "main" cluster.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    if [ ! -f /etc/postgresql-common/createcluster.d/casper-event-store.conf ]; then
        echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/casper-event-store.conf >/dev/null
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q || fail "apt-get update failed"
    $SUDO apt-get install -y -q --no-install-recommends "${MISSING[@]}" \
        || fail "apt-get install failed for: ${MISSING[*]}"
    mapfile -t STILL < <(missing_packages)
    [ "${#STILL[@]}" -eq 0 ] || fail "packages still missing after install: ${STILL[*]}"
    log "apt: installed ${MISSING[*]}"
fi

PG_BIN="/usr/lib/postgresql/${POSTGRES_MAJOR}/bin"
[ -x "$PG_BIN/postgres" ] || fail "PostgreSQL ${POSTGRES_MAJOR} server binaries not found in $PG_BIN"
id postgres >/dev/null 2>&1 || fail "OS user 'postgres' is missing (it is created by the postgresql-${POSTGRES_MAJOR} package)"

JAVA_HOME_17="/usr/lib/jvm/java-17-openjdk-amd64"
if [ -x "$JAVA_HOME_17/bin/java" ]; then
    JAVA="$JAVA_HOME_17/bin/java"
else
    JAVA="$(command -v java || true)"
fi
[ -n "$JAVA" ] || fail "no java found"

# --------------------------------------------------------------------------
# 2. Go toolchain (not from apt: the project uses the toolchain in /usr/local/go)
# --------------------------------------------------------------------------
if [ -n "${GO:-}" ]; then
    :
elif [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
else
    GO="$(command -v go || true)"
fi
{ [ -n "$GO" ] && [ -x "$GO" ]; } || fail "Go toolchain not found (expected /usr/local/go/bin/go); it is needed to build FerretDB"

mkdir -p "$CES_TOOLS" 2>/dev/null || $SUDO mkdir -p "$CES_TOOLS" || fail "cannot create $CES_TOOLS"
[ -w "$CES_TOOLS" ] || fail "$CES_TOOLS is not writable; set CES_TOOLS to a writable folder"

# Serialise concurrent runs (two checkouts running setup at the same time).
exec 9>"$CES_TOOLS/.setup.lock"
flock 9
# leftovers of an interrupted run
rm -rf "$CES_TOOLS"/.kafka-build.* "$CES_TOOLS"/.ferretdb-build.*

# --------------------------------------------------------------------------
# 3. Kafka jars (Maven Central)
# --------------------------------------------------------------------------
KAFKA_DIR="$CES_TOOLS/kafka-${KAFKA_VERSION}"
KAFKA_STAMP="kafka_${KAFKA_SCALA_VERSION}:${KAFKA_VERSION} kafka-tools:${KAFKA_VERSION} slf4j-reload4j:${SLF4J_RELOAD4J_VERSION}"
MVN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:${MAVEN_DEPENDENCY_PLUGIN_VERSION:-3.6.1}"

kafka_installed() {
    [ -f "$KAFKA_DIR/.installed" ] && [ "$(cat "$KAFKA_DIR/.installed")" = "$KAFKA_STAMP" ] \
        && compgen -G "$KAFKA_DIR/libs/kafka_${KAFKA_SCALA_VERSION}-${KAFKA_VERSION}.jar" >/dev/null \
        && compgen -G "$KAFKA_DIR/libs/zookeeper-[0-9]*.jar" >/dev/null \
        && compgen -G "$KAFKA_DIR/tools-libs/kafka-tools-${KAFKA_VERSION}.jar" >/dev/null
}

if kafka_installed; then
    log "kafka: ${KAFKA_VERSION} already in $KAFKA_DIR ($(find "$KAFKA_DIR/libs" -mindepth 1 -maxdepth 1 | wc -l) jars)"
else
    command -v mvn >/dev/null || fail "mvn not found"
    log "kafka: fetching kafka_${KAFKA_SCALA_VERSION}:${KAFKA_VERSION} and its runtime dependencies with Maven (about a minute the first time)"
    work="$(mktemp -d "$CES_TOOLS/.kafka-build.XXXXXX")"
    # Broker runtime (libs/) and the admin command line tools (tools-libs/, only
    # the jars the broker does not already have) are kept apart so the broker's
    # class path stays the one of the Kafka distribution.
    write_pom() { # artifactId deps-xml
        cat >"$work/$1/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>casper-event-store.local</groupId>
  <artifactId>$1</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$2
  </dependencies>
</project>
EOF
    }
    mkdir -p "$work/broker" "$work/tools"
    write_pom broker "    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${KAFKA_SCALA_VERSION}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_RELOAD4J_VERSION}</version></dependency>"
    write_pom tools "    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version></dependency>"
    for part in broker:libs tools:tools-libs; do
        if ! (cd "$work/${part%%:*}" && mvn -q -B -f pom.xml "$MVN_DEPENDENCY_PLUGIN:copy-dependencies" \
                -DoutputDirectory="$work/${part#*:}" -DincludeScope=runtime >"$work/mvn.log" 2>&1); then
            tail -n 40 "$work/mvn.log" >&2 || true
            rm -rf "$work"
            fail "Maven could not fetch the Kafka jars (see output above)"
        fi
    done
    # drop from tools-libs every artifact the broker's libs already have (in any version)
    declare -A broker_artifacts=()
    for jar in "$work"/libs/*.jar; do
        jar="$(basename "$jar" .jar)"; broker_artifacts["${jar%%-[0-9]*}"]=1
    done
    for jar in "$work"/tools-libs/*.jar; do
        name="$(basename "$jar" .jar)"
        [ -z "${broker_artifacts["${name%%-[0-9]*}"]:-}" ] || rm -f "$jar"
    done
    rm -rf "$KAFKA_DIR"
    mkdir -p "$KAFKA_DIR"
    mv "$work/libs" "$work/tools-libs" "$KAFKA_DIR/"
    cp "$work/broker/pom.xml" "$KAFKA_DIR/pom-broker.xml"
    cp "$work/tools/pom.xml" "$KAFKA_DIR/pom-tools.xml"
    rm -rf "$work"
    printf '%s\n' "$KAFKA_STAMP" >"$KAFKA_DIR/.installed"
    kafka_installed || fail "Kafka jars incomplete in $KAFKA_DIR/libs"
    log "kafka: installed $(find "$KAFKA_DIR/libs" -mindepth 1 -maxdepth 1 | wc -l) broker jars into $KAFKA_DIR/libs, $(find "$KAFKA_DIR/tools-libs" -mindepth 1 -maxdepth 1 | wc -l) more for the admin tools into $KAFKA_DIR/tools-libs"
fi

# --------------------------------------------------------------------------
# 4. FerretDB (built from the Go module; `go install` leaves version.txt empty
#    and the binary panics at start, so build from a writable copy instead)
# --------------------------------------------------------------------------
FERRETDB_DIR="$CES_TOOLS/ferretdb-${FERRETDB_VERSION}"
FERRETDB_BIN="$FERRETDB_DIR/ferretdb"

ferretdb_installed() {
    [ -x "$FERRETDB_BIN" ] || return 1
    local out
    out="$("$FERRETDB_BIN" --version 2>/dev/null)" || return 1
    [[ "$out" == *"version: ${FERRETDB_VERSION}"* ]]
}

if ferretdb_installed; then
    log "ferretdb: ${FERRETDB_VERSION} already at $FERRETDB_BIN"
else
    log "ferretdb: building ${FERRETDB_VERSION} with $("$GO" version | awk '{print $3}')"
    export GOFLAGS="-buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
    modjson="$("$GO" mod download -json "github.com/FerretDB/FerretDB@${FERRETDB_VERSION}")" \
        || fail "go mod download github.com/FerretDB/FerretDB@${FERRETDB_VERSION} failed"
    moddir="$(printf '%s' "$modjson" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Dir",""))')"
    { [ -n "$moddir" ] && [ -d "$moddir" ]; } || fail "go mod download did not report a module folder"
    work="$(mktemp -d "$CES_TOOLS/.ferretdb-build.XXXXXX")"
    cp -R "$moddir/." "$work/src"
    chmod -R u+w "$work/src"
    printf '%s\n' "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
    mkdir -p "$FERRETDB_DIR"
    if ! (cd "$work/src" && "$GO" build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb); then
        rm -rf "$work" "$FERRETDB_BIN.tmp"
        fail "go build of FerretDB failed"
    fi
    mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
    rm -rf "$work"
    ferretdb_installed || fail "built $FERRETDB_BIN but it does not report version ${FERRETDB_VERSION}"
    log "ferretdb: installed $FERRETDB_BIN"
fi

# --------------------------------------------------------------------------
# 5. Swagger UI (npm swagger-ui-dist, served by `api` at /swagger-ui/),
#    puppeteer-core for its browser check (tests/browser), which drives
#    Debian's chromium (step 1), and casper-js-sdk for the SDK check (tests/sdk).
# --------------------------------------------------------------------------
SWAGGER_UI_DIST_VERSION="${SWAGGER_UI_DIST_VERSION:-5.35.0}"
PUPPETEER_CORE_VERSION="${PUPPETEER_CORE_VERSION:-24.43.1}"
CASPER_JS_SDK_VERSION="${CASPER_JS_SDK_VERSION:-5.0.12}"
# npm: Debian's package only when no npm is there (a NodeSource nodejs ships its own and conflicts with it)
if ! command -v npm >/dev/null 2>&1; then
    log "apt: installing npm"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q || fail "apt-get update failed"
    $SUDO apt-get install -y -q --no-install-recommends npm || fail "apt-get install failed for: npm"
fi
command -v npm >/dev/null 2>&1 || fail "npm not found after installing it"
rm -rf "$CES_TOOLS"/.swagger-ui-build.* "$CES_TOOLS"/.puppeteer-build.*

SWAGGER_UI_DIR="$CES_TOOLS/swagger-ui-dist-${SWAGGER_UI_DIST_VERSION}"
if [ -f "$SWAGGER_UI_DIR/swagger-ui-bundle.js" ] && [ -f "$SWAGGER_UI_DIR/index.html" ]; then
    log "swagger-ui: ${SWAGGER_UI_DIST_VERSION} already in $SWAGGER_UI_DIR"
else
    log "swagger-ui: fetching swagger-ui-dist@${SWAGGER_UI_DIST_VERSION} with npm pack"
    work="$(mktemp -d "$CES_TOOLS/.swagger-ui-build.XXXXXX")"
    tarball="$(cd "$work" && npm pack --silent "swagger-ui-dist@${SWAGGER_UI_DIST_VERSION}" | tail -n1)" \
        || { rm -rf "$work"; fail "npm pack swagger-ui-dist@${SWAGGER_UI_DIST_VERSION} failed"; }
    tar -xzf "$work/$tarball" -C "$work" || { rm -rf "$work"; fail "cannot unpack $tarball"; }
    [ -f "$work/package/swagger-ui-bundle.js" ] || { rm -rf "$work"; fail "swagger-ui-dist package has no swagger-ui-bundle.js"; }
    rm -rf "$SWAGGER_UI_DIR"
    mv "$work/package" "$SWAGGER_UI_DIR"
    rm -rf "$work"
    log "swagger-ui: installed $SWAGGER_UI_DIR"
fi

# npm_tool PACKAGE VERSION: installs PACKAGE@VERSION (and its dependencies) into
# $CES_TOOLS/PACKAGE-VERSION/node_modules, unless that version is already there.
npm_tool() {
    local package="$1" version="$2"
    local dir="$CES_TOOLS/${package}-${version}"
    if [ -f "$dir/node_modules/$package/package.json" ] \
            && grep -q "\"version\": \"${version}\"" "$dir/node_modules/$package/package.json"; then
        log "$package: ${version} already in $dir"
        return 0
    fi
    log "$package: installing ${version} with npm"
    local work
    work="$(mktemp -d "$CES_TOOLS/.npm-build.XXXXXX")"
    if ! (cd "$work" && printf '{"name":"ces-%s","private":true}\n' "$package" >package.json \
            && npm install --silent --no-audit --no-fund --ignore-scripts "${package}@${version}" >npm.log 2>&1); then
        tail -n 40 "$work/npm.log" >&2 || true
        rm -rf "$work"
        fail "npm install ${package}@${version} failed"
    fi
    rm -f "$work/npm.log"
    chmod 755 "$work"
    rm -rf "$dir"
    mv "$work" "$dir"
    log "$package: installed into $dir/node_modules"
}
rm -rf "$CES_TOOLS"/.npm-build.*
npm_tool puppeteer-core "$PUPPETEER_CORE_VERSION"
# The official JavaScript SDK: its SSE client and event parsers check the api's streams (tests/sdk).
npm_tool casper-js-sdk "$CASPER_JS_SDK_VERSION"

# --------------------------------------------------------------------------
# 6. Summary
# --------------------------------------------------------------------------
log "java:     $("$JAVA" -version 2>&1 | head -n1)"
log "postgres: $("$PG_BIN/postgres" --version)"
log "kcat:     $(kcat -V 2>&1 | head -n1)"
log "node:     $(node --version), chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
log "tools:    $CES_TOOLS"
log "done"
