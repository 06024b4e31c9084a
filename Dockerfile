# The native runner as an image, for teams that prefer one to the default S3 bundle delivery.
# Build:  docker build -t <registry>/inference-baseline-runner:<tag> .
# Deploy: npx cdk deploy -c clusterName=NAME -c runnerImageMode=image -c runnerImage=<registry>/inference-baseline-runner:<tag>
# The Job runs: node /app/runner.mjs run --config … --target … --model … --run-id … --out s3://… --shard i/N
FROM public.ecr.aws/docker/library/node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY runtime ./runtime
# Same esbuild options as the CDK asset (infra/constructs/runner-bundle.ts).
RUN npx esbuild runtime/cli/main.ts --bundle --platform=node --target=node22 --format=esm \
      --outfile=/out/runner.mjs \
      "--banner:js=import { createRequire as __ibCreateRequire } from 'node:module'; const require = __ibCreateRequire(import.meta.url);"

FROM public.ecr.aws/docker/library/node:22-slim
COPY --from=build /out/runner.mjs /app/runner.mjs
USER node
ENTRYPOINT ["node", "--single-threaded-gc", "/app/runner.mjs"]
CMD ["--help"]
