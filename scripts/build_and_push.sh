#!/usr/bin/env bash
# Build the zeta_rmt training image (docker/Dockerfile) and push it to Artifact Registry.
#
#   scripts/build_and_push.sh [TAG]
#
# Environment (all optional):
#   PROJECT          GCP project        (default: gcloud config get-value project)
#   REGION           registry region    (default: europe-west4)
#   REPO             Artifact Registry Docker repository (default: zeta-rmt)
#   IMAGE            image name         (default: train)
#   BASE_IMAGE       base image build arg (default: the Dockerfile's python:3.11-slim)
#   USE_CLOUD_BUILD  1: build remotely with Cloud Build (no local Docker needed); default 0
#   DRY_RUN          1: print the commands instead of running them
# TAG defaults to the git commit (with -dirty when the tree has changes).
# The last line printed is the override to launch with: cloud.image_uri=<URI>
# (or: export ZETA_RMT_IMAGE_URI=<URI>). One-time setup: docs/vertex_ai.md.
set -euo pipefail

cd "$(dirname "$0")/.."

run() {
    if [[ "${DRY_RUN:-0}" == "1" ]]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

PROJECT="${PROJECT:-$(gcloud config get-value project 2>/dev/null || true)}"
if [[ -z "${PROJECT}" ]]; then
    echo "build_and_push.sh: set PROJECT=<gcp project id> (or gcloud config set project ...)" >&2
    exit 2
fi
REGION="${REGION:-europe-west4}"
REPO="${REPO:-zeta-rmt}"
IMAGE="${IMAGE:-train}"
if [[ $# -ge 1 ]]; then
    TAG="$1"
else
    TAG="$(git rev-parse --short=12 HEAD 2>/dev/null || echo latest)"
    if [[ -n "$(git status --porcelain 2>/dev/null || true)" ]]; then TAG="${TAG}-dirty"; fi
fi
URI="${REGION}-docker.pkg.dev/${PROJECT}/${REPO}/${IMAGE}:${TAG}"

BUILD_ARGS=()
if [[ -n "${BASE_IMAGE:-}" ]]; then BUILD_ARGS+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}"); fi

if [[ "${USE_CLOUD_BUILD:-0}" == "1" ]]; then
    # Cloud Build: the Dockerfile is not at the root, so pass a one-step build config.
    CONFIG="$(mktemp -t cloudbuild.XXXXXX.yaml)"
    trap 'rm -f "${CONFIG}"' EXIT
    {
        echo "steps:"
        echo "- name: gcr.io/cloud-builders/docker"
        printf '  args: [build, -f, docker/Dockerfile'
        for a in "${BUILD_ARGS[@]}"; do printf ', "%s"' "$a"; done
        printf ', -t, "%s", .]\n' "${URI}"
        echo "images: [\"${URI}\"]"
        echo "options: {machineType: E2_HIGHCPU_8}"
    } > "${CONFIG}"
    if [[ "${DRY_RUN:-0}" == "1" ]]; then cat "${CONFIG}"; fi
    run gcloud builds submit --project "${PROJECT}" --region "${REGION}" --config "${CONFIG}" .
else
    run gcloud auth configure-docker "${REGION}-docker.pkg.dev" --quiet
    run docker build -f docker/Dockerfile "${BUILD_ARGS[@]}" -t "${URI}" .
    run docker push "${URI}"
fi
echo "cloud.image_uri=${URI}"
