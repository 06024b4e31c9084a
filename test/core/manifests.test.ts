import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  assembleJob,
  CONFIG_PATH,
  jobParts,
  kubernetesPaths,
  podPlacement,
  renderConfigMap,
  renderJob,
  renderServiceAccount,
  ZONE_LABEL,
} from '../../runtime/core/manifests/index.ts';
import { loadBundleBootstrap } from '../../runtime/bootstrap/index.ts';

const BUNDLE_BOOTSTRAP = loadBundleBootstrap();
import { parseScenario } from '../../runtime/core/scenario/index.ts';
import { runnerResources } from '../../runtime/core/run-spec/build.ts';
import { seedRunSpec } from './run-spec-fixture.ts';

const URL = 'https://cdk-assets.s3.us-west-2.amazonaws.com/abc.mjs?X-Amz-Signature=x';

type AnyJob = { spec: { template: { spec: { containers: Array<Record<string, unknown>> } & Record<string, unknown> } } & Record<string, unknown> };

describe('manifests for the seed defaults (native runner, bundle delivery)', () => {
  const spec = seedRunSpec({});
  const job = renderJob(spec, 'us-west-2a', { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } }) as unknown as AnyJob;
  const pod = job.spec.template.spec;
  const container = pod.containers[0] as Record<string, unknown>;

  it('validate against the Kubernetes schemas', () => {
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(() => new ConfigMap(renderConfigMap(spec) as never).validate()).not.toThrow();
    expect(() => new ServiceAccount(renderServiceAccount(spec) as never).validate()).not.toThrow();
  });

  it('pins the pods to the target zone, with requests equal to limits (Guaranteed QoS: the load generator is never throttled below its request)', () => {
    expect(pod.nodeSelector).toEqual({ [ZONE_LABEL]: 'us-west-2a' });
    expect(pod.affinity).toBeUndefined();
    // The seed's 2 CPU, raised to one per worker: the baseline preset keeps the seed's num_workers: 4.
    expect(container.resources).toEqual({ requests: { cpu: '4', memory: '4Gi' }, limits: { cpu: '4', memory: '4Gi' } });
  });

  it('gives the runner a CPU per worker (load.num_workers), never fewer than the stack configured', () => {
    const cpuOf = (workers: number): unknown => seedRunSpec({ overrides: { load: { num_workers: workers } } }).job.resources;
    expect(cpuOf(1)).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } });
    expect(cpuOf(8)).toEqual({ requests: { cpu: '8', memory: '4Gi' }, limits: { cpu: '8', memory: '4Gi' } });
    expect(runnerResources({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '1500m', memory: '1Gi' } }, 1)).toEqual({
      requests: { cpu: '1', memory: '1Gi' },
      limits: { cpu: '1500m', memory: '1Gi' },
    });
  });

  it('never retries, bounds the run, expires the Job, and labels it with the run', () => {
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 900,
      ttlSecondsAfterFinished: 3600,
      completionMode: 'Indexed',
      completions: 1,
      parallelism: 1,
    });
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.serviceAccountName).toBe('inference-baseline-runner');
    expect((job as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject({
      'inference-baseline/run-id': '20250101T020000Z-ab12cd',
      'inference-baseline/scenario': 'baseline',
    });
  });

  it('runs a stock Node 22 image that fetches, verifies and runs the bundle with the CLI flags', () => {
    expect(container.image).toBe('public.ecr.aws/docker/library/node:22-slim');
    // The collector on the loop's own thread (RUNNER_NODE_FLAGS): no helper thread preempts the stamping loop.
    expect(container.command).toEqual(['node', '--single-threaded-gc', '-e', BUNDLE_BOOTSTRAP, '--']);
    expect(container.args).toEqual([
      'run', '--config', CONFIG_PATH,
      '--name', 'baseline',
      '--target', 'http://qwen3-vllm.default:8000',
      '--model', 'qwen3-8b',
      '--run-id', '20250101T020000Z-ab12cd',
      '--out', 's3://results-bucket/runs/baseline/qwen3-8b/',
      '--shard', '$(JOB_COMPLETION_INDEX)/1',
      // The seed's four, explicit: the runner in the pod does not fit them to the node's CPUs.
      '--workers', '4',
      // Every target replica's metrics, from the pod IPs the workflow adds to the ConfigMap.
      '--metrics-targets', '/etc/inference-baseline/metrics-targets.json', '--metrics-port', '8000', '--metrics-path', '/metrics',
      '--no-aggregate',
    ]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'RUNNER_BUNDLE_URL', value: URL },
        { name: 'RUNNER_BUNDLE_SHA256', value: 'a'.repeat(64) },
        { name: 'AWS_REGION', value: 'us-west-2' },
      ]),
    );
    expect(BUNDLE_BOOTSTRAP).not.toMatch(/curl|wget/);
    expect(BUNDLE_BOOTSTRAP).toMatch(/createHash\('sha256'\)/);
  });

  it('mounts the run config the ConfigMap carries, parseable as the scenario config', () => {
    const cm = renderConfigMap(spec);
    expect(cm.metadata.name).toBe(spec.names.configMap);
    const config = parseScenario(parseYaml(cm.data['config.yml']), 'config.yml');
    expect(config.load.stages).toEqual([{ rate: 1, duration: 300 }]);
    expect(pod.volumes).toEqual(expect.arrayContaining([{ name: 'config', configMap: { name: spec.names.configMap } }]));
  });
});

describe('the bootstrap script', () => {
  it('is valid JavaScript', () => {
    expect(() => new Function('require', BUNDLE_BOOTSTRAP)).not.toThrow();
  });
});

describe('manifests for the inference-perf runner', () => {
  const spec = seedRunSpec({ runner: 'inference-perf' });
  const job = renderJob(spec, 'us-west-2b') as unknown as AnyJob;
  const container = job.spec.template.spec.containers[0] as Record<string, unknown>;

  it('validate against the Kubernetes schemas', () => {
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(() => new ConfigMap(renderConfigMap(spec) as never).validate()).not.toThrow();
  });

  it('runs inference-perf v0.6.1 on the mounted config', () => {
    expect(container.image).toBe('quay.io/inference-perf/inference-perf:v0.6.1');
    expect(container.command).toEqual(['inference-perf']);
    expect(container.args).toEqual(['--config_file', CONFIG_PATH]);
  });

  it("renders inference-perf's keys only, with S3 storage under raw/ and per-request records", () => {
    const yaml = parseYaml(renderConfigMap(spec).data['config.yml']) as Record<string, Record<string, unknown>>;
    expect(yaml.validity).toBeUndefined();
    expect(yaml.load?.arrival).toBeUndefined();
    expect(yaml.storage).toEqual({
      simple_storage_service: { bucket_name: 'results-bucket', path: 'runs/baseline/qwen3-8b/20250101T020000Z-ab12cd/raw' },
    });
    expect(yaml.report).toEqual({ request_lifecycle: { per_request: true } });
    expect(yaml.server).toMatchObject({ base_url: 'http://qwen3-vllm.default:8000', model_name: 'qwen3-8b' });
    expect(yaml.tokenizer).toEqual({ pretrained_model_name_or_path: 'Qwen/Qwen3-8B' });
  });

  it('server.type: the three inference-perf knows pass through; our other dialects are OpenAI-compatible servers to it (vllm)', () => {
    for (const [type, rendered] of [['sglang', 'sglang'], ['tgi', 'tgi'], ['trtllm', 'vllm'], ['llamacpp', 'vllm'], ['ollama', 'vllm'], ['openai', 'vllm']] as const) {
      const s = seedRunSpec({ runner: 'inference-perf', overrides: { server: { type, ignore_eos: type !== 'tgi' && type !== 'ollama' } } });
      const yaml = parseYaml(renderConfigMap(s).data['config.yml']) as { server: { type: string } };
      expect(yaml.server.type).toBe(rendered);
    }
  });
});

describe('the stack\'s Hugging Face hub settings (hfEndpoint, hfTokenSecret)', () => {
  for (const runner of ['native', 'inference-perf'] as const) {
    it(`${runner}: HF_ENDPOINT set, HF_TOKEN from the Secret's key "token" (optional: a missing Secret does not stop the pod); the Job still validates`, () => {
      const spec = seedRunSpec({ runner }, { hub: { endpoint: 'https://hf-mirror.internal', tokenSecret: 'hf-token' } });
      const job = renderJob(spec, 'us-west-2b', { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } }) as unknown as AnyJob;
      const env = (job.spec.template.spec.containers[0] as { env: Array<Record<string, unknown>> }).env;
      expect(env).toContainEqual({ name: 'HF_ENDPOINT', value: 'https://hf-mirror.internal' });
      expect(env).toContainEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'token', optional: true } } });
      expect(() => new Job(job as never).validate()).not.toThrow();
    });
  }

  it('without them: neither variable (the public hub, no token)', () => {
    const job = renderJob(seedRunSpec({}), 'us-west-2b', { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } }) as unknown as AnyJob;
    const names = (job.spec.template.spec.containers[0] as { env: Array<{ name: string }> }).env.map((e) => e.name);
    expect(names).not.toContain('HF_ENDPOINT');
    expect(names).not.toContain('HF_TOKEN');
  });
});

describe('manifests for the native runner, image delivery', () => {
  it('run node on the baked bundle and validate', () => {
    const spec = seedRunSpec({}, { runnerDelivery: 'image', images: { node: 'n', inferencePerf: 'i', runner: '111111111111.dkr.ecr.us-west-2.amazonaws.com/ib:1' } });
    const job = renderJob(spec, 'us-west-2a') as unknown as AnyJob;
    const container = job.spec.template.spec.containers[0] as Record<string, unknown>;
    expect(container.image).toBe('111111111111.dkr.ecr.us-west-2.amazonaws.com/ib:1');
    expect(container.command).toEqual(['node', '--single-threaded-gc', '/app/runner.mjs']);
    expect(() => new Job(job as never).validate()).not.toThrow();
  });
});

describe('placement when the zone cannot be resolved (Fargate)', () => {
  const spec = seedRunSpec({});
  for (const zone of [null, 'unknown']) {
    it(`requires podAffinity to the target pods in their namespace (zone ${String(zone)})`, () => {
      const job = renderJob(spec, zone, { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } }) as unknown as AnyJob;
      const pod = job.spec.template.spec;
      expect(pod.nodeSelector).toBeUndefined();
      expect(pod.affinity).toEqual({
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'qwen3-vllm' } },
              namespaces: ['default'],
              topologyKey: 'topology.kubernetes.io/zone',
            },
          ],
        },
      });
      expect(() => new Job(job as never).validate()).not.toThrow();
    });
  }
});

describe('the pieces the workflow reassembles', () => {
  it('shallow-merge into exactly the rendered Job', () => {
    const spec = seedRunSpec({});
    const parts = jobParts(spec, { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } });
    expect(assembleJob(parts, podPlacement(spec, 'eu-west-1c'))).toEqual(renderJob(spec, 'eu-west-1c', { bundle: { url: URL, bootstrap: BUNDLE_BOOTSTRAP } }));
    expect(parts.template.podSpec).not.toHaveProperty('nodeSelector');
    expect(parts.template.podSpec).not.toHaveProperty('affinity');
  });

  it('the REST paths name the namespaces', () => {
    expect(kubernetesPaths('benchmarking', 'default')).toEqual({
      targetPods: '/api/v1/namespaces/default/pods',
      serviceAccounts: '/api/v1/namespaces/benchmarking/serviceaccounts',
      configMaps: '/api/v1/namespaces/benchmarking/configmaps',
      jobs: '/apis/batch/v1/namespaces/benchmarking/jobs',
      pods: '/api/v1/namespaces/benchmarking/pods',
      events: '/api/v1/namespaces/benchmarking/events',
    });
  });
});
