import type { S3Client } from '@aws-sdk/client-s3';
import type { HistoryEntry } from '../core/history/entry.ts';
import { HISTORY_READ_LIMIT, parseHistoryEntry } from '../core/history/read-entry.ts';
import type { HistoryFor, HistoryStore } from '../core/ports/history-store.ts';
import { historyEntryName, historySeriesPath } from '../core/run-layout.ts';
import { formatS3Url, getObjectText, listObjects, putObject, type S3Location } from './s3.ts';

/**
 * A series' history in S3: `<root>history/<scenario>/<model>/<runId>.json`, one object per run
 * (written by the aggregator of that run only: no read-modify-write that two runs could race).
 */
export class S3HistoryStore implements HistoryStore {
  readonly location: string;

  constructor(
    private readonly client: S3Client,
    private readonly loc: S3Location,
  ) {
    this.location = formatS3Url(loc);
  }

  async list(): Promise<{ entries: HistoryEntry[]; unreadable: string[] }> {
    const keys: string[] = [];
    for await (const o of listObjects(this.client, this.loc.bucket, this.loc.prefix)) if (o.key.endsWith('.json')) keys.push(o.key);
    const recent = keys.sort().slice(-HISTORY_READ_LIMIT);
    const entries: HistoryEntry[] = [];
    const unreadable: string[] = [];
    // A few at a time: a year of nights is a few hundred small GETs.
    for (let i = 0; i < recent.length; i += 16) {
      const texts = await Promise.all(recent.slice(i, i + 16).map((k) => getObjectText(this.client, this.loc.bucket, k).catch((e: Error) => `unreadable: ${e.message}`)));
      texts.forEach((text, j) => {
        const parsed = parseHistoryEntry(text);
        if ('entry' in parsed) entries.push(parsed.entry);
        else unreadable.push(`s3://${this.loc.bucket}/${recent[i + j]}: ${parsed.problem}`);
      });
    }
    return { entries, unreadable };
  }

  async put(entry: HistoryEntry): Promise<string> {
    const key = this.loc.prefix + historyEntryName(entry.runId);
    await putObject(this.client, this.loc.bucket, key, `${JSON.stringify(entry, null, 2)}\n`, { contentType: 'application/json' });
    return `s3://${this.loc.bucket}/${key}`;
  }
}

/** Histories under `s3://bucket/<root>` (the bucket's root for the workflow's run prefixes). */
export function s3HistoryFor(client: S3Client, bucket: string, root: string): HistoryFor {
  return ({ scenario, model }) => new S3HistoryStore(client, { bucket, prefix: `${root}${historySeriesPath(scenario, model)}` });
}
