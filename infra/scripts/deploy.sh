#!/usr/bin/env bash
# Build the image, push it to ECR under an immutable tag (the git commit), deploy the stack.
# Migrations are not a step here: the stack runs them (custom resource) before the services
# take the new image, and a failed migration rolls the deploy back. See docs/deploy-aws.md.
#
#   AWS_REGION=eu-west-1 infra/scripts/deploy.sh [extra cdk context, e.g. -c certificateArn=...]
#
# Needs: docker (with buildx), aws CLI v2 with credentials, node/npm, a clean git tree.
set -euo pipefail

: "${AWS_REGION:?set AWS_REGION}"
STACK="${STACK:-OpplyCommerce}"
REPOSITORY="${REPOSITORY:-opply-commerce}"
ROOT="$(git rev-parse --show-toplevel)"

if [ -n "$(git -C "$ROOT" status --porcelain)" ] && [ "${ALLOW_DIRTY:-}" != "1" ]; then
  echo "deploy: the work tree has uncommitted changes; commit them (or ALLOW_DIRTY=1)" >&2
  exit 1
fi
TAG="${IMAGE_TAG:-$(git -C "$ROOT" rev-parse --short=12 HEAD)}"
ACCOUNT="$(aws sts get-caller-identity --query Account --output text)"
REGISTRY="${ACCOUNT}.dkr.ecr.${AWS_REGION}.amazonaws.com"
IMAGE="${REGISTRY}/${REPOSITORY}:${TAG}"

echo "deploy: image ${IMAGE}"
aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$REGISTRY"
if aws ecr describe-images --region "$AWS_REGION" --repository-name "$REPOSITORY" --image-ids "imageTag=${TAG}" >/dev/null 2>&1; then
  echo "deploy: ${TAG} is already in the registry (tags are immutable); not rebuilding"
else
  docker buildx build --platform linux/amd64 --tag "$IMAGE" --push "$ROOT"
fi

cd "$ROOT/infra"
npx cdk deploy "$STACK" --no-notices --require-approval never \
  -c imageTag="$TAG" -c repositoryName="$REPOSITORY" "$@"
echo "deploy: ${STACK} now runs ${TAG}"
