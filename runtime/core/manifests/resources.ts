import { IRSA_ROLE_ANNOTATION, type RunSpec } from '../run-spec/index.ts';
import { commonLabels, runLabels } from './labels.ts';
import { CONFIG_FILE } from '../run-layout.ts';
import { runnerConfigYaml } from './runner-config.ts';

/** The runner's ServiceAccount (shared by every run; its EKS Pod Identity association, or its IRSA role annotation, grants S3 writes under `runs/`). */
export function renderServiceAccount(spec: RunSpec) {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: spec.names.serviceAccount,
      namespace: spec.cluster.benchmarkNamespace,
      labels: commonLabels(),
      // IRSA: EKS's webhook gives the pods of an annotated ServiceAccount the role's web identity.
      ...(spec.irsaRoleArn ? { annotations: { [IRSA_ROLE_ANNOTATION]: spec.irsaRoleArn } } : {}),
    },
  };
}

/** The run's `config.yml`, mounted read-only into the runner. */
export function renderConfigMap(spec: RunSpec) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: spec.names.configMap,
      namespace: spec.cluster.benchmarkNamespace,
      labels: runLabels(spec),
    },
    data: { [CONFIG_FILE]: runnerConfigYaml(spec) },
  };
}
