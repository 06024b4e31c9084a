import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONDITIONAL_RAW_KEY_PATTERNS } from '../derive.ts';
import { acknowledge } from '../nag.ts';

/**
 * Where every run lands (`runs/<scenario>/<model>/<runId>/`). Encrypted, private, TLS only,
 * versioned and retained: raw results are never deleted or overwritten — and the bucket says so
 * itself: a write of a raw file without `If-None-Match` is refused whoever sends it (S3 enforces
 * conditional writes by bucket policy; `s3:ObjectCreationOperation` exempts the multipart steps
 * that cannot carry the header, CompleteMultipartUpload carries it).
 */
export class ResultsBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
        { id: 'expire-replaced-versions', noncurrentVersionExpiration: Duration.days(90) },
        {
          id: 'tier-old-runs',
          transitions: [{ storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(30) }],
        },
      ],
    });
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RawFilesAreWrittenOnce',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: CONDITIONAL_RAW_KEY_PATTERNS.map((p) => this.bucket.arnForObjects(p)),
        conditions: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
      }),
    );
    acknowledge(this.bucket, [
      {
        id: 'AwsSolutions-S1',
        reason:
          'Benchmark results only; writers are the stack roles (least privilege, CloudTrail management events). Server access logs would need a second bucket per stack for no operational use.',
      },
    ]);
  }
}
