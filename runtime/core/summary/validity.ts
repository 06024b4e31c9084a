import type { RunRequest } from '../records/run-manifest.ts';
import { minSamples, type DistributionStats } from '../metrics/latency-histogram.ts';
import type { Measured } from './schema.ts';
import type { ServerAccount } from './server-account.ts';
import type { ValidityRules } from '../scenario/validity-rules.ts';

/**
 * The rules that make a run a valid baseline. A run that breaks one is still stored
 * and published — as invalid, with reasons a person can act on, never as a baseline.
 */
export function judgeValidity(s: Measured, request: RunRequest): { valid: boolean; reasons: string[]; notes: string[] } {
  const reasons: string[] = [];
  const notes: string[] = [];
  const rules = request.validity;
  const { requests, tokens } = s;

  if (s.run.partial) {
    reasons.push(`The run was interrupted after sending ${requests.sent} of ${requests.scheduled} scheduled requests: a partial run is not a baseline. Run it again to completion.`);
  } else if (requests.sent < requests.scheduled) {
    reasons.push(`Only ${requests.sent} of ${requests.scheduled} scheduled requests were sent: results are missing. Check the runner's logs and that every shard wrote its results.`);
  }
  if (requests.succeeded === 0) {
    reasons.push(`No request succeeded (${requests.failed} failed${errorList(requests.errors)}): there is nothing to measure. Check that the target is up and serves the model.`);
  } else if (requests.succeeded < rules.minSuccesses && requests.failed > 0) {
    // Failures, not a short run, left too few: the fix is the target's health (the error reason below says why).
    reasons.push(`Only ${requests.succeeded} of ${requests.sent} requests succeeded (${requests.failed} failed${errorList(requests.errors)}): a baseline needs at least ${rules.minSuccesses} successes. See why they failed (the error messages listed with the run); a baseline needs a healthy target.`);
  } else if (requests.succeeded < rules.minSuccesses) {
    reasons.push(`Only ${requests.succeeded} request(s) succeeded: a baseline needs at least ${rules.minSuccesses} (p90 needs 10 samples, p99 100). Run longer or at a higher rate.`);
  }
  if (!s.run.streaming) {
    reasons.push('The run did not stream (api.streaming is false — inference-perf\'s default): without streaming there is no TTFT, ITL or TPOT, only end-to-end latency, so it is not a latency baseline. Set api.streaming: true.');
  }

  const delayP99 = s.load.schedule_delay.p99;
  if (delayP99 !== null && delayP99 >= rules.maxScheduleDelayP99Ms) {
    const steal = s.load.cpuSteal;
    const late = scheduleDelayText(s.load.schedule_delay, rules.maxScheduleDelayP99Ms);
    reasons.push(
      steal !== null && steal >= NOTABLE_STEAL
        ? `${late} while the hypervisor took ${fmt(steal * 100)} % of the runner's machine's CPU time (CPU steal): the load generator was stalled by the host, so it measured the host. Run it on instances with dedicated CPUs (not burstable ones out of credits) or at a quieter hour.`
        : `${late}: the load generator could not send on time, so it measured itself. Give the runner more CPU or spread the load over more shards.`,
    );
  }

  for (const st of s.load.stages) {
    const expected = st.scheduledRate ?? st.requestedRate;
    if (st.achievedRate === null) continue;
    const deviation = Math.abs(st.achievedRate - expected) / expected;
    if (deviation > rules.maxRateDeviation) {
      const where = s.load.stages.length > 1 ? ` in stage ${st.stage}` : '';
      reasons.push(`The achieved rate${where} was ${fmt(st.achievedRate)} req/s, ${fmt(deviation * 100)} % off the scheduled ${fmt(expected)} req/s (limit ${fmt(rules.maxRateDeviation * 100)} %): the runner could not keep its schedule. Give it more CPU, raise its in-flight cap, or spread the load over more shards.`);
    }
  }

  if (requests.sent > 0 && requests.failed > 0) {
    const rate = requests.failed / requests.sent;
    if (rate > rules.maxErrorRate) {
      reasons.push(`${requests.failed} of ${requests.sent} requests failed (${fmt(rate * 100)} %, allowed ${fmt(rules.maxErrorRate * 100)} %)${errorList(requests.errors)}. See the error messages in the request records; a baseline needs a healthy target.`);
    }
  }

  if (tokens.missingServerUsage > 0) {
    reasons.push(`${tokens.missingServerUsage} successful requests came back without the server's usage, so their token counts cannot be verified. Use a server that honours stream_options.include_usage (vLLM does).`);
  }
  if (tokens.outputMismatches > 0 && request.ignoreEos) {
    reasons.push(`${tokens.outputMismatches} successful requests returned a different number of output tokens than requested (server usage): the server stopped early or ignored max_tokens. Check that it honours ignore_eos and that max_model_len leaves room for the output.`);
  } else if (tokens.outputMismatches > 0) {
    reasons.push(`${tokens.outputMismatches} successful requests returned more output tokens than max_tokens (server usage): the server ignored max_tokens. Check the server's max-tokens field (server.type) and its version.`);
  }
  if (!request.ignoreEos && requests.succeeded > 0) {
    const mean = Math.round((tokens.outputTokens / requests.succeeded) * 10) / 10;
    notes.push(`ignore_eos was off (server.ignore_eos: false): each request stopped where the model chose, up to max_tokens (${mean} output tokens on average), so this is not the seed's fixed-length baseline and is comparable only with runs of the same setting; tpot and ntpot divide by each request's own output count.`);
  }
  if (tokens.inputMismatches > 0) {
    reasons.push(`${tokens.inputMismatches} successful requests had a prompt length (server usage) different from the requested one: prompt calibration did not match the server's count. Check server.type, and that tokenizer.pretrained_model_name_or_path (when the server has no tokenize endpoint) is the served model's tokenizer.`);
  }
  return { valid: reasons.length === 0, reasons, notes };
}

/**
 * CPU steal from which a late run is blamed on the host: on the development VM a few per cent left
 * the 1 req/s schedule-delay tail within the limit, heavy steal put every tail past it (BENCHMARKS.md
 * §1 has the figures).
 */
export const NOTABLE_STEAL = 0.05;

/**
 * The late-send figure a reason quotes, worded as the percentile table shows it. With fewer sends
 * than a p99 needs, the table stars p99 as "too few samples", so the reason does not quote one: it
 * gives the largest delay (the table's max column), the count, and the minimum a p99 needs. Below
 * that count one late send is already more than 1 % of them, so the run still breaks the rule.
 */
export function scheduleDelayText(d: Pick<DistributionStats, 'count' | 'p99' | 'max' | 'insufficient'>, limitMs: number): string {
  if (!d.insufficient.includes('p99')) return `Schedule delay p99 was ${fmt(d.p99 ?? 0)} ms (limit ${limitMs} ms)`;
  return `Schedule delay reached ${fmt(d.max ?? d.p99 ?? 0)} ms, the largest of only ${d.count} send${d.count === 1 ? '' : 's'} (too few for the p99 the ${limitMs} ms limit applies to, which needs ${minSamples(99)}; one late send in ${d.count} is already more than 1 %)`;
}

function errorList(errors: Partial<Record<string, number>>): string {
  const parts = Object.entries(errors).map(([t, n]) => `${n} ${t}`);
  return parts.length ? `: ${parts.join(', ')}` : '';
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(x < 10 ? 2 : 1);
}

/**
 * What the server's own account says of the run as a baseline: other requests during the window
 * (foreign load), the run's prompts served from the prefix cache, or — when the rules require it —
 * metrics that could not be read. Without a complete account, a note says what was not checked.
 */
export function judgeServerAccount(server: ServerAccount | null, rules: ValidityRules): { reasons: string[]; notes: string[] } {
  const reasons: string[] = [];
  const notes: string[] = [];
  if (server === null) {
    if (rules.requireServerMetrics) reasons.push('No server metrics were scraped, and validity.require_server_metrics is set: the run could not check for foreign load or prefix-cache hits. Give the runner the server\'s metrics URL (--metrics-url, or the stack\'s targetMetricsPort/targetMetricsPath).');
    return { reasons, notes };
  }
  const { foreign, seen, ours } = server.requests;
  if (foreign !== null && foreign > rules.maxForeignRequests) {
    reasons.push(
      `The server handled ${foreign} request${foreign === 1 ? '' : 's'} that ${foreign === 1 ? 'was' : 'were'} not this run's (${seen} finished during the run, ${ours} of them ours${rules.maxForeignRequests > 0 ? `; allowed ${rules.maxForeignRequests}` : ''}): the baseline was measured under other load. Find what else sends to it (another benchmark, a batch job, a canary) and run when it is idle, or raise validity.max_foreign_requests if that load is expected.`,
    );
  }
  const cache = server.prefixCache;
  if (cache?.hitRate != null && cache.hitRate > rules.maxPrefixCacheHitRate) {
    reasons.push(
      `The server's prefix cache served ${fmt(cache.hitRate * 100)} % of the run's prompt tokens (${fmt(cache.hits)} of ${fmt(cache.queries)}; allowed ${fmt(rules.maxPrefixCacheHitRate * 100)} %): TTFT measured the cache, not prefill. Use fresh prompts (leave out --seed, which repeats an earlier run's prompts), or restart the server to empty its cache.`,
    );
  }
  if (!server.scraped.complete) {
    const text = `The server's metrics could not be read on every replica before and after the load, so foreign load and prefix-cache hits were not fully checked (${server.notes.join(' ') || 'no recognised exposition'}).`;
    if (rules.requireServerMetrics) reasons.push(`${text} validity.require_server_metrics is set.`);
    else notes.push(text);
  }
  return { reasons, notes };
}
