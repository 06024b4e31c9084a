/**
 * Pod Security admission as the Kubernetes API server applies it to a namespace labelled
 * `pod-security.kubernetes.io/enforce: <level>` (the Pod Security Standards, "latest" version):
 * the checks of `baseline` and, for `restricted`, its own, worded as the API server words them
 * (k8s.io/pod-security-admission/policy). The local Kubernetes stand-in refuses a pod that violates
 * its namespace's level, exactly where the API server would: when the Job controller creates it.
 */

export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  procMount?: string;
  windowsOptions?: { hostProcess?: boolean };
  seLinuxOptions?: { type?: string; user?: string; role?: string };
}

interface Container {
  name: string;
  securityContext?: SecurityContext;
  ports?: Array<{ hostPort?: number }>;
}

export interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { sysctls?: Array<{ name: string }> };
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<Record<string, unknown> & { name: string }>;
}

const BASELINE_CAPABILITIES = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/** Each violation as the API server lists it ("check (detail)"); empty when the pod is allowed. */
export function podSecurityViolations(pod: PodSpec, level: PodSecurityLevel): string[] {
  if (level === 'privileged') return [];
  const all = [...(pod.initContainers ?? []), ...pod.containers];
  const psc = pod.securityContext ?? {};
  const out: string[] = [];
  const names = (cs: Container[]): string => cs.map((c) => `"${c.name}"`).join(', ');
  const containersWhere = (test: (c: Container) => boolean): Container[] => all.filter(test);
  const plural = (cs: Container[]): string => (cs.length === 1 ? 'container' : 'containers');

  // baseline
  const hostNamespaces = [pod.hostNetwork && 'hostNetwork=true', pod.hostPID && 'hostPID=true', pod.hostIPC && 'hostIPC=true'].filter(Boolean);
  if (hostNamespaces.length) out.push(`host namespaces (${hostNamespaces.join(', ')})`);
  const privileged = containersWhere((c) => c.securityContext?.privileged === true);
  if (privileged.length) out.push(`privileged (${plural(privileged)} ${names(privileged)} must not set securityContext.privileged=true)`);
  const addedCaps = containersWhere((c) => (c.securityContext?.capabilities?.add ?? []).some((x) => !BASELINE_CAPABILITIES.has(x)));
  if (addedCaps.length) out.push(`non-default capabilities (${plural(addedCaps)} ${names(addedCaps)} must not include capabilities beyond the default set in securityContext.capabilities.add)`);
  const hostPath = (pod.volumes ?? []).filter((v) => 'hostPath' in v);
  if (hostPath.length) out.push(`hostPath volumes (${hostPath.map((v) => `"${v.name}"`).join(', ')})`);
  const hostPorts = containersWhere((c) => (c.ports ?? []).some((p) => (p.hostPort ?? 0) !== 0));
  if (hostPorts.length) out.push(`hostPort (${plural(hostPorts)} ${names(hostPorts)} use hostPort)`);
  const unconfined = [psc, ...all.map((c) => c.securityContext ?? {})].some((sc) => sc.seccompProfile?.type === 'Unconfined');
  if (unconfined) out.push('seccompProfile (pod or containers must not set securityContext.seccompProfile.type to "Unconfined")');
  const unsafeSysctls = (psc.sysctls ?? []).filter((s) => !SAFE_SYSCTLS.has(s.name));
  if (unsafeSysctls.length) out.push(`forbidden sysctls (${unsafeSysctls.map((s) => s.name).join(', ')})`);
  const procMount = containersWhere((c) => c.securityContext?.procMount !== undefined && c.securityContext.procMount !== 'Default');
  if (procMount.length) out.push(`procMount (${plural(procMount)} ${names(procMount)} must not set securityContext.procMount to "Unmasked")`);
  if (level === 'baseline') return out;

  // restricted
  const badVolumes = (pod.volumes ?? []).filter((v) => !Object.keys(v).some((k) => RESTRICTED_VOLUMES.has(k)));
  if (badVolumes.length) out.push(`restricted volume types (volumes ${badVolumes.map((v) => `"${v.name}"`).join(', ')} use restricted volume types)`);
  const escalation = containersWhere((c) => c.securityContext?.allowPrivilegeEscalation !== false);
  if (escalation.length) out.push(`allowPrivilegeEscalation != false (${plural(escalation)} ${names(escalation)} must set securityContext.allowPrivilegeEscalation=false)`);
  const caps = containersWhere((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL') || (c.securityContext?.capabilities?.add ?? []).some((x) => x !== 'NET_BIND_SERVICE'));
  if (caps.length) out.push(`unrestricted capabilities (${plural(caps)} ${names(caps)} must set securityContext.capabilities.drop=["ALL"])`);
  const nonRoot = containersWhere((c) => (c.securityContext?.runAsNonRoot ?? psc.runAsNonRoot) !== true);
  if (nonRoot.length) out.push(`runAsNonRoot != true (pod or ${plural(nonRoot)} ${names(nonRoot)} must set securityContext.runAsNonRoot=true)`);
  const rootUser = containersWhere((c) => (c.securityContext?.runAsUser ?? psc.runAsUser) === 0);
  if (rootUser.length) out.push(`runAsUser=0 (pod or ${plural(rootUser)} ${names(rootUser)} must not set runAsUser=0)`);
  const seccomp = containersWhere((c) => !['RuntimeDefault', 'Localhost'].includes(c.securityContext?.seccompProfile?.type ?? psc.seccompProfile?.type ?? ''));
  if (seccomp.length) out.push(`seccompProfile (pod or ${plural(seccomp)} ${names(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  return out;
}

/** The API server's refusal of a pod, as the Job controller's FailedCreate event quotes it. */
export function podSecurityRefusal(podName: string, level: PodSecurityLevel, violations: string[]): string {
  return `pods "${podName}" is forbidden: violates PodSecurity "${level}:latest": ${violations.join(', ')}`;
}
