import { describe, expect, it } from 'vitest';
import { configFromContext, cronProblems, parseStackConfig } from '../../infra/config.ts';
import { workflowAccessEntry, runDefaults, runMetricAlarms, scheduleExpression } from '../../infra/derive.ts';
import { inferencePerfImage, STACK_DEFAULTS } from '../../runtime/core/run-spec/index.ts';
import { readFileSync } from 'node:fs';
import { failureCauses, statesFormat } from '../../infra/constructs/workflow/causes.ts';
import { InputError } from '../../runtime/core/errors.ts';
import { RunDefaults } from '../../runtime/core/run-spec/index.ts';

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).problems;
  }
  throw new Error('expected an InputError');
}

describe('stack configuration', () => {
  it('needs only clusterName; everything else is the seed default', () => {
    const c = parseStackConfig({ clusterName: 'demo' });
    expect(c).toMatchObject({
      targetBaseUrl: 'http://qwen3-vllm.default:8000',
      modelName: 'qwen3-8b',
      tokenizer: 'Qwen/Qwen3-8B',
      targetPodSelector: 'app.kubernetes.io/component=qwen3-vllm',
      targetNamespace: 'default',
      benchmarkNamespace: 'benchmarking',
      runner: 'native',
      runnerImageMode: 'bundle',
      inferencePerfImageTag: 'v0.6.1',
      scheduleCron: '0 2 * * ? *',
      scheduleTimeZone: 'UTC',
      scheduleEnabled: true,
      metricNamespace: 'InferenceBaseline',
    });
  });

  it('reports every problem at once, by key (missing clusterName, bad cron, bad URL, …)', () => {
    const p = problems({
      targetBaseUrl: 'qwen3-vllm:8000',
      scheduleCron: '0 2 * *',
      scheduleTimeZone: 'Mars/Olympus',
      runner: 'locust',
      alarmEmail: 'not-an-email',
      targetPodSelector: 'app in (a)',
      clustername: 'typo',
    });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^clusterName: required/),
        expect.stringMatching(/^targetBaseUrl: must be an http\(s\) URL/),
        expect.stringMatching(/^scheduleCron: "0 2 \* \*" has 4 fields/),
        expect.stringMatching(/^scheduleTimeZone: "Mars\/Olympus" is not an IANA time zone/),
        expect.stringMatching(/^runner: unsupported value "locust"; supported: "native", "inference-perf"/),
        expect.stringMatching(/^alarmEmail: /),
        expect.stringMatching(/^targetPodSelector: /),
        expect.stringMatching(/^clustername: not a setting \(did you mean clusterName\?\)/),
      ]),
    );
    expect(p).toHaveLength(8);
  });

  it('formats the error message with every problem and the fix', () => {
    expect(() => parseStackConfig({})).toThrow(/^stack configuration \(cdk\.json context \/ -c key=value\): clusterName: required.*\nFix: /s);
  });

  it('accepts -c strings for booleans and numbers', () => {
    const c = parseStackConfig({ clusterName: 'demo', scheduleEnabled: 'false', slaTtftP99Ms: '750' });
    expect(c.scheduleEnabled).toBe(false);
    expect(c.slaTtftP99Ms).toBe(750);
  });

  it('requires a runner image in image mode', () => {
    expect(problems({ clusterName: 'demo', runnerImageMode: 'image' })).toEqual([expect.stringMatching(/^runnerImage: required when runnerImageMode is "image"/)]);
  });

  it('takes our keys from the CDK context and leaves CDK flags alone', () => {
    expect(configFromContext({ clusterName: 'x', '@aws-cdk/core:flag': true, 'aws:cdk:bundling-stacks': [], 'acknowledged-issue-numbers': [1] })).toEqual({ clusterName: 'x' });
  });

  it('reports a key that is no setting in any spelling, with the setting it most likely meant', () => {
    const p = problems(configFromContext({ clusterName: 'demo', alarm_email: 'a@b.c', ScheduleEnabled: 'false', slaTTFT: 5 }));
    expect(p).toEqual([
      expect.stringMatching(/^alarm_email: not a setting \(did you mean alarmEmail\?\)/),
      expect.stringMatching(/^ScheduleEnabled: not a setting \(did you mean scheduleEnabled\?\)/),
      expect.stringMatching(/^slaTTFT: not a setting; settings: clusterName, /),
    ]);
  });

  it('refuses a Job deadline that the workflow timeout cuts short, naming both numbers and the fix', () => {
    expect(problems({ clusterName: 'demo', workflowTimeoutMinutes: 20, deadlineMarginSeconds: 600 })).toEqual([
      'workflowTimeoutMinutes: 20 min is shorter than the Job\'s deadline (300 s of load + deadlineMarginSeconds 600 s) plus 900 s for aggregation; raise workflowTimeoutMinutes to at least 30 or lower deadlineMarginSeconds',
    ]);
  });
});

describe('cron checks', () => {
  it.each([
    ['0 2 * * ? *', []],
    ['30 23 ? * MON-FRI *', []],
    ['0/15 * * * ? *', []],
  ])('accepts %s', (cron, expected) => expect(cronProblems(cron)).toEqual(expected));
  it.each([
    ['0 25 * * ? *', /hours 25 is outside 0–23/],
    ['0 2 * * * *', /exactly one of day-of-month and day-of-week/],
    ['61 2 * * ? *', /minutes 61/],
    ['0 2 * * ?', /has 5 fields/],
  ])('rejects %s', (cron, re) => expect(cronProblems(cron).join('; ')).toMatch(re));
});

describe('derived values', () => {
  const config = parseStackConfig({ clusterName: 'demo' });
  it('image, schedule expression, access policies', () => {
    expect(inferencePerfImage('v0.6.1')).toBe('quay.io/inference-perf/inference-perf:v0.6.1@sha256:e29328cc223ebae58d9022d60ad651cc3c4cbd534885a78b28f54086aa4b9c9e');
    // A release the stack has no digest for is named by its tag (and pulled every time: job.ts).
    expect(inferencePerfImage('v0.9.0')).toBe('quay.io/inference-perf/inference-perf:v0.9.0');
    expect(scheduleExpression(' 0  2 * * ? * ')).toBe('cron(0 2 * * ? *)');
    expect(workflowAccessEntry(config, 'aws')).toEqual({
      accessPolicies: [
        { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', accessScope: { type: 'namespace', namespaces: ['benchmarking'] } },
        { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', accessScope: { type: 'namespace', namespaces: ['default'] } },
      ],
    });
    // rbac: no policy at all, only the group the rendered Roles bind.
    expect(workflowAccessEntry(parseStackConfig({ clusterName: 'demo', workflowKubernetesAccess: 'rbac' }), 'aws')).toEqual({ accessPolicies: [], kubernetesGroups: ['inference-baseline:workflow'] });
  });
  it('rejects an unknown Kubernetes access mode by name', () => {
    expect(() => parseStackConfig({ clusterName: 'demo', workflowKubernetesAccess: 'admin' })).toThrow(/workflowKubernetesAccess: .*access-policies.*rbac/);
  });
  it('run defaults PrepareRun accepts', () => {
    const d = RunDefaults.parse(runDefaults(config, { region: 'us-west-2', bucket: 'results-bucket', bundle: { bucket: 'a', key: 'k.mjs', sha256: 'f'.repeat(64) } }));
    expect(d.target.podSelector).toEqual({ 'app.kubernetes.io/component': 'qwen3-vllm' });
    expect(d.job).toMatchObject({ deadlineMarginSeconds: 600, pollIntervalSeconds: 30, resources: { requests: { cpu: '2', memory: '4Gi' } } });
  });
  it('hfEndpoint and hfTokenSecret reach the runner pod through PrepareRun (a cluster without internet points at a mirror); bad values are refused by key', () => {
    const hub = parseStackConfig({ clusterName: 'demo', hfEndpoint: 'https://hf-mirror.internal', hfTokenSecret: 'hf-token' });
    const d = RunDefaults.parse(runDefaults(hub, { region: 'us-west-2', bucket: 'results-bucket', bundle: { bucket: 'a', key: 'k.mjs', sha256: 'f'.repeat(64) } }));
    expect(d.hub).toEqual({ endpoint: 'https://hf-mirror.internal', tokenSecret: 'hf-token' });
    expect(RunDefaults.parse(runDefaults(config, { region: 'us-west-2', bucket: 'results-bucket' })).hub).toBeUndefined();
    expect(problems({ clusterName: 'demo', hfEndpoint: 'mirror', hfTokenSecret: 'Bad_Name' })).toEqual([
      'hfEndpoint: must be the http(s) URL of a Hugging Face hub or mirror',
      'hfTokenSecret: "Bad_Name" must be a Kubernetes Secret name',
    ]);
  });
  it('alarm thresholds', () => {
    expect(runMetricAlarms(config).map((a) => [a.id, a.metricName, a.threshold, a.periodHours, a.missing])).toEqual([
      ['TtftP99Sla', 'ttft_p99', 1000, 24, 'notBreaching'],
      ['ItlP99Sla', 'itl_p99', 100, 24, 'notBreaching'],
      ['InvalidRun', 'RunValid', 1, 24, 'notBreaching'],
      ['BaselineRegression', 'RegressionCount', 0, 24, 'notBreaching'],
      ['MissingNightlyRun', 'RunValid', 1, 26, 'missing'],
    ]);
  });
  it('failure causes are States.Format calls with escaped text', () => {
    expect(statesFormat(["it's {x} ", { path: '$.a' }])).toBe("States.Format('it\\'s \\{x\\} {}', $.a)");
    for (const kubernetesAccess of ['access-policies', 'rbac'] as const) {
      for (const [clusterAccess, runnerCredentials] of [['public', 'pod-identity'], ['vpc', 'irsa']] as const) {
        for (const cause of Object.values(failureCauses({ clusterName: 'c', benchmarkNamespace: 'b', targetNamespace: 't', serviceAccountName: 's', kubernetesAccess, clusterAccess, runnerCredentials }))) {
          expect(cause).toMatch(/^States\.Format\('.*'(, \$[.\w[\]]+)*\)$/s);
        }
      }
    }
  });
  it('AccessDenied names what to check in the access mode the stack uses', () => {
    const words = { clusterName: 'c', benchmarkNamespace: 'b', targetNamespace: 't', serviceAccountName: 's', clusterAccess: 'public', runnerCredentials: 'pod-identity' } as const;
    expect(failureCauses({ ...words, kubernetesAccess: 'access-policies' }).AccessDenied).toContain('AmazonEKSEditPolicy on namespace b and AmazonEKSViewPolicy on namespace t');
    const rbac = failureCauses({ ...words, kubernetesAccess: 'rbac' }).AccessDenied;
    expect(rbac).toContain('Kubernetes group inference-baseline:workflow');
    expect(rbac).toContain('inference-baseline render --rbac');
    expect(rbac).not.toContain('AmazonEKSEditPolicy');
  });
  it('the causes name who called and how the runner gets credentials, as the stack is deployed', () => {
    const words = { clusterName: 'c', benchmarkNamespace: 'b', targetNamespace: 't', serviceAccountName: 's', kubernetesAccess: 'access-policies' } as const;
    const pub = failureCauses({ ...words, clusterAccess: 'public', runnerCredentials: 'pod-identity' });
    const vpc = failureCauses({ ...words, clusterAccess: 'vpc', runnerCredentials: 'irsa' });
    expect(pub.AccessDenied).toContain('refused the state machine role');
    expect(vpc.AccessDenied).toContain("refused the KubeCall function\\'s role");
    expect(pub.PrepareFailed).toContain('a public API endpoint open to all');
    expect(vpc.PrepareFailed).toContain('private endpoint access');
    expect(pub.NoResults).toContain('EKS Pod Identity association');
    expect(vpc.NoResults).toContain('eks.amazonaws.com/role-arn annotation (IRSA)');
  });
});

describe('cdk.json', () => {
  it('documents exactly the stack defaults (one home: STACK_DEFAULTS; this keeps the copy people read equal to it)', () => {
    const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
    expect(configFromContext(cdkJson.context)).toEqual({ ...STACK_DEFAULTS });
  });
});
