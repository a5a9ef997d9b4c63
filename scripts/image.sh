#!/usr/bin/env bash
# `make image`: build the Cloud Run image here, offline from Docker registries, and run it as a
# Cloud Run job would. Steps (timings printed at the end):
#   1. base: a Debian 12 (bookworm, Python 3.11) root from debootstrap, imported into podman as
#      $BASE_IMAGE; the root's tarball is cached under $NBA_HOME/tools/image/ and built once;
#   2. image: `podman build --isolation chroot` of ./Dockerfile FROM that base, uv from PyPI
#      (production builds the same file with its defaults: python:3.11-slim-bookworm, uv's image);
#   3. smoke: the image's root (`podman create` + `podman mount`: a writable copy, no runtime —
#      `podman run` cannot set rlimits in this sandbox) is entered with chroot as the image's
#      user with the image's environment: `nba-backfill --help`; then, against a Prefect server
#      started here, `nba-backfill setup --target cloud-run` registers the deployments (code at
#      /opt/nba-backfill, the pull step's directory), a `backfill` flow run is created for
#      $SMOKE_START..$SMOKE_END and the image's `prefect flow-run execute` runs it
#      (PREFECT__FLOW_RUN_ID, PREFECT_API_URL), on a seeded DuckDB copied into the root.
#      The run must end Completed with its subflows, chunk task runs and artifacts.
# Needs root (chroot, mounts), podman and debootstrap. Any failure: one line on stderr naming
# the step (and its log), exit 1. Mounts, the container and the server go on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

NBA_HOME=${NBA_BACKFILL_HOME:-.nba-backfill}
CACHE=$NBA_HOME/tools/image
BASE_TAR=$CACHE/bookworm-python3.tar
BASE_IMAGE=${BASE_IMAGE:-localhost/nba-backfill-base:bookworm}
IMAGE=${IMAGE:-localhost/nba-backfill:local}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SMOKE_START=${SMOKE_START:-2021-10-19}
SMOKE_END=${SMOKE_END:-2021-11-08}
WORK=$NBA_HOME/image-smoke
PY=$REPO/.venv/bin/python

fail() { echo "make image: $*" >&2; exit 1; }
now() { date +%s; }
since() { echo $(($(now) - $1)); }

[ "$(id -u)" = 0 ] || fail "needs root (chroot and mounts); CI runs as root"
for tool in podman debootstrap chroot curl; do
    command -v "$tool" >/dev/null || fail "$tool not found: apt-get install podman debootstrap curl"
done
[ -x "$PY" ] || fail "no project environment at .venv: run make sync first"

rm -rf "$WORK" && mkdir -p "$WORK" "$CACHE"
WORK=$(cd "$WORK" && pwd)

CTR="" ROOT="" SERVER_PID="" MOUNTS=()
cleanup() {
    local m
    for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
    if [ -n "$SERVER_PID" ]; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$CTR" ]; then
        podman umount "$CTR" >/dev/null 2>&1 || true
        podman rm -f "$CTR" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the base image ----------------------------------------------------------------------
t0=$(now)
if podman image exists "$BASE_IMAGE"; then
    base_note="reused"
else
    if [ ! -s "$BASE_TAR" ]; then
        echo "building the Debian 12 base root (debootstrap, once; cached in $CACHE)"
        rm -rf "$CACHE/root"
        debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$CACHE/root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
            || fail "debootstrap failed (log: $WORK/debootstrap.log)"
        rm -rf "$CACHE"/root/var/cache/apt/archives/*.deb "$CACHE"/root/var/lib/apt/lists/*
        # The build reaches PyPI through this machine's network: where an egress proxy signs
        # TLS with a local CA, the base trusts the host's local CAs too.
        if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
            cp /usr/local/share/ca-certificates/*.crt "$CACHE/root/usr/local/share/ca-certificates/"
            chroot "$CACHE/root" update-ca-certificates >>"$WORK/debootstrap.log" 2>&1 \
                || fail "cannot add the host's CAs to the base (log: $WORK/debootstrap.log)"
        fi
        tar -C "$CACHE/root" -cf "$BASE_TAR.tmp" . || fail "cannot archive the base root"
        mv "$BASE_TAR.tmp" "$BASE_TAR" && rm -rf "$CACHE/root"
        base_note="debootstrap + import"
    else
        base_note="import of the cached root"
    fi
    # pip and uv in the build read the system trust store from these (python:3.11-slim's
    # tools reach PyPI with their own bundles).
    podman import --change 'CMD ["/usr/bin/python3"]' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        "$BASE_TAR" "$BASE_IMAGE" \
        >"$WORK/import.log" 2>&1 || fail "podman import of the base failed (log: $WORK/import.log)"
fi
base_s=$(since "$t0")
echo "base $BASE_IMAGE: $base_note (${base_s}s)"

# --- 2. the image ---------------------------------------------------------------------------
t0=$(now)
echo "building $IMAGE (podman, chroot isolation; log: $WORK/build.log)"
# PLATFORM_IMAGE is passed even at its default: buildah (podman 4.3) prunes the stages it
# thinks unused before expanding an ARG's default, so `FROM ${PLATFORM_IMAGE}` alone would
# find the platform-none stage gone ("platform-none: image not known").
OLD_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --isolation chroot --pull=never \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg UV_SOURCE=uv-pypi \
    --build-arg PLATFORM_IMAGE="${PLATFORM_IMAGE:-platform-none}" \
    ${PLATFORM_REQUIREMENTS:+--build-arg PLATFORM_REQUIREMENTS="$PLATFORM_REQUIREMENTS"} \
    -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 \
    || fail "podman build failed: $(grep -m1 -iE 'error' "$WORK/build.log" | cut -c1-120) (log: $WORK/build.log)"
build_s=$(since "$t0")
# The image it replaces is left untagged: dropped, so rebuilds do not pile up ~1.4 GB each
# (its layers stay while the build cache uses them).
NEW_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then podman rmi "$OLD_ID" >/dev/null 2>&1 || true; fi
echo "image $IMAGE built (${build_s}s)"

# --- 3. smoke: as a Cloud Run job ---------------------------------------------------------
t0=$(now)
USER_SPEC=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
WORKDIR=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
mapfile -t IMAGE_ENV < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
[ -n "$USER_SPEC" ] && [ "${USER_SPEC%%:*}" != 0 ] && [ "${USER_SPEC%%:*}" != root ] \
    || fail "the image runs as root (USER '${USER_SPEC}'), not as its non-root user"
case $USER_SPEC in *:*) ;; *) USER_SPEC=$USER_SPEC:$USER_SPEC ;; esac

CTR=$(podman create --name "nba-backfill-smoke-$$" "$IMAGE") || fail "podman create failed"
ROOT=$(podman mount "$CTR") || fail "podman mount of the smoke container failed"
mount -t proc proc "$ROOT/proc" && MOUNTS=("$ROOT/proc" "${MOUNTS[@]}") || fail "cannot mount /proc in the image root"
mount --bind /dev "$ROOT/dev" && MOUNTS=("$ROOT/dev" "${MOUNTS[@]}") || fail "cannot bind /dev in the image root"
IMAGE_HOME=$(chroot "$ROOT" getent passwd "${USER_SPEC%%:*}" | cut -d: -f6)
[ -n "$IMAGE_HOME" ] || fail "the image's user ${USER_SPEC%%:*} has no passwd entry"

# Runs a command in the image as its user, with only the image's environment plus "$@"'s
# leading NAME=VALUE words, from its WORKDIR: what the container's process would see.
in_image() {
    chroot --userspec="$USER_SPEC" "$ROOT" /usr/bin/env -i "${IMAGE_ENV[@]}" HOME="$IMAGE_HOME" \
        /bin/sh -c 'cd "$0" && exec /usr/bin/env "$@"' "$WORKDIR" "$@"
}

in_image nba-backfill --help >"$WORK/help.log" 2>&1 \
    || fail "nba-backfill --help fails in the image (log: $WORK/help.log)"
grep -q 'Usage: nba-backfill' "$WORK/help.log" || fail "nba-backfill --help printed no usage (log: $WORK/help.log)"
echo "smoke: nba-backfill --help runs as ${USER_SPEC} in the image"

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API=http://127.0.0.1:$PORT/api
# The host's commands see only their own state: no PREFECT_* / NBA_BACKFILL_* from outside.
OUTSIDE=$(env | grep -oE '^(PREFECT|NBA_BACKFILL)_[A-Za-z0-9_]*' | sed 's/^/-u /' || true)
CLEAN_ENV=(env $OUTSIDE
    PREFECT_SERVER_ANALYTICS_ENABLED=false PYTHONPATH="$REPO")
HOST_ENV=("${CLEAN_ENV[@]}" PREFECT_HOME="$WORK/client-home" PREFECT_API_URL="$API"
    NBA_BACKFILL_HOME="$WORK/home")
setsid "${CLEAN_ENV[@]}" PREFECT_HOME="$WORK/server-home" PREFECT_UI_API_URL="$API" \
    "$PY" -m prefect server start --host 127.0.0.1 --port "$PORT" \
    >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!
for _ in $(seq 240); do
    curl -sf "$API/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the Prefect server exited (log: $WORK/server.log)"
    sleep 0.5
done
curl -sf "$API/health" >/dev/null || fail "the Prefect server is not healthy after 120s (log: $WORK/server.log)"

# Seeding and registering do not depend on each other: side by side.
"${HOST_ENV[@]}" "$PY" scripts/image_smoke.py seed "$WORK/warehouse.duckdb" "$SMOKE_START" "$SMOKE_END" \
    >"$WORK/seed.log" 2>&1 &
SEED_PID=$!
"${HOST_ENV[@]}" "$PY" -m cli setup --target cloud-run >"$WORK/setup.log" 2>&1 \
    || { wait "$SEED_PID" || true; fail "nba-backfill setup --target cloud-run failed (log: $WORK/setup.log)"; }
wait "$SEED_PID" || fail "seeding the smoke warehouse failed (log: $WORK/seed.log)"
DATA=$IMAGE_HOME/smoke
mkdir -p "$ROOT$DATA" && cp "$WORK/warehouse.duckdb" "$ROOT$DATA/" && chown -R "$USER_SPEC" "$ROOT$DATA"
RUN_ID=$("${HOST_ENV[@]}" "$PY" scripts/image_smoke.py create-run backfill/cloud-run "$SMOKE_START" "$SMOKE_END" 2>"$WORK/create-run.log") \
    || fail "cannot create the backfill flow run: $(tail -1 "$WORK/create-run.log")"

# The Cloud Run job's container: its command and the worker's variables; the warehouse is the
# seeded DuckDB file instead of BigQuery (the deployment's NBA_BACKFILL_WAREHOUSE__BACKEND).
echo "smoke: prefect flow-run execute $RUN_ID ($SMOKE_START..$SMOKE_END) in the image"
in_image PREFECT_API_URL="$API" PREFECT__FLOW_RUN_ID="$RUN_ID" \
    NBA_BACKFILL_HOME="$DATA/home" \
    NBA_BACKFILL_WAREHOUSE__BACKEND=duckdb \
    NBA_BACKFILL_WAREHOUSE__DUCKDB_PATH="$DATA/warehouse.duckdb" \
    NBA_BACKFILL_WAREHOUSE__DUCKDB_PARTITION_EXPIRATION=none \
    prefect flow-run execute >"$WORK/execute.log" 2>&1 \
    || fail "prefect flow-run execute exited non-zero in the image (log: $WORK/execute.log)"
if ! "${HOST_ENV[@]}" "$PY" scripts/image_smoke.py check "$RUN_ID" >"$WORK/check.log" 2>&1; then
    # The server's verdict, and the run's first exception when the verdict does not name it.
    why=$(tail -1 "$WORK/check.log")
    err=$(grep -m1 -E '^[A-Za-z.]*(Error|Exception): ' "$WORK/execute.log" | cut -c1-100 || true)
    [ -z "$err" ] || [[ $why == *"$err"* ]] || why="$why — $err"
    fail "$why (log: $WORK/execute.log)"
fi
smoke_s=$(since "$t0")
echo "smoke: $(tail -1 "$WORK/check.log") (${smoke_s}s)"
echo "make image: ok — base ${base_s}s ($base_note), image build ${build_s}s, smoke ${smoke_s}s"
