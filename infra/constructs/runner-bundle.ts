import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AssetHashType, BundlingOutput, DockerImage, Stack } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/** Gives ESM bundles a `require` for the CommonJS packages they contain. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __ibCreateRequire } from 'node:module'; const require = __ibCreateRequire(import.meta.url);";

/** The file name inside the asset (its S3 key is `<asset hash>.mjs`). */
export const RUNNER_BUNDLE_FILE = 'runner.mjs';

/** sha256 used when bundling is skipped (tests with `aws:cdk:bundling-stacks: []`). */
export const UNBUNDLED_SHA256 = '0'.repeat(64);

/** esbuild options for the runner bundle: the project CLI as one ESM file for Node 22. */
export function runnerBundleOptions(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node' as const,
    target: 'node22',
    format: 'esm' as const,
    outfile,
    banner: { js: ESM_REQUIRE_BANNER },
    // The CLI's `workflow` command (the local stand-in for AWS: CDK, s3rver, the ASL interpreter)
    // never runs in a pod; program.ts imports it lazily, and the bundle leaves that import out.
    external: ['./commands/workflow.ts'],
    logLevel: 'warning' as const,
  };
}

export interface RunnerBundleProps {
  /** Repository root (holds `runtime/cli/main.ts` and node_modules). */
  projectRoot: string;
}

/**
 * The native runner as an S3 asset, built by esbuild on this machine (no Docker). The Job's stock
 * Node image downloads it by a presigned URL and checks `sha256` before running it.
 */
export class RunnerBundle extends Construct {
  readonly asset: s3assets.Asset;
  /** Hex sha256 of the bundle file (what the pod verifies). */
  readonly sha256: string;

  constructor(scope: Construct, id: string, props: RunnerBundleProps) {
    super(scope, id);
    const entry = join(props.projectRoot, 'runtime', 'cli', 'main.ts');
    let built: string | undefined;
    this.asset = new s3assets.Asset(this, 'Asset', {
      path: join(props.projectRoot, 'runtime'),
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never used: local bundling always succeeds or throws.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
        outputType: BundlingOutput.SINGLE_FILE,
        local: {
          tryBundle(outputDir: string): boolean {
            const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync(o: unknown): unknown };
            const outfile = join(outputDir, RUNNER_BUNDLE_FILE);
            esbuild.buildSync(runnerBundleOptions(entry, outfile));
            built = createHash('sha256').update(readFileSync(outfile)).digest('hex');
            return true;
          },
        },
      },
    });
    this.sha256 = built ?? (Stack.of(this).bundlingRequired ? sha256OfStaged(this.asset) : UNBUNDLED_SHA256);
  }
}

function sha256OfStaged(asset: s3assets.Asset): string {
  const staging = asset.node.tryFindChild('Stage') as { absoluteStagedPath?: string } | undefined;
  if (!staging?.absoluteStagedPath) throw new Error('RunnerBundle: cannot find the staged runner bundle to hash');
  return createHash('sha256').update(readFileSync(staging.absoluteStagedPath)).digest('hex');
}
