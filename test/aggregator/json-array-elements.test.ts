import { describe, expect, it } from 'vitest';
import { jsonArrayElements } from '../../runtime/aggregator/json-array-elements.ts';
import { mulberry32 } from '../../runtime/core/random.ts';

async function* chunksOf(bytes: Buffer, sizes: () => number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

async function collect(bytes: Buffer, sizes: () => number = () => 1 << 16): Promise<{ values: unknown[]; error: string | null }> {
  const values: unknown[] = [];
  try {
    for await (const v of jsonArrayElements(chunksOf(bytes, sizes))) values.push(v);
    return { values, error: null };
  } catch (e) {
    return { values, error: (e as Error).message };
  }
}

// Strings that defeat a naive splitter: quotes, backslash runs before quotes, brackets and commas in
// text, multi-byte UTF-8, and escapes of every kind.
const tricky = ['plain', 'a "quoted" word', 'ends with a backslash \\', '\\\\"', '[not, an] {array}', '안녕 — ü ✓ 🚀', '\n\t\r\u0001', '"', '\\', ''];
function records(n: number, random: () => number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    request: { prompt: tricky[i % tricky.length]! + tricky[Math.floor(random() * tricky.length)]!, nested: [[1, [2, { x: '}' }]], { y: ']' }] },
    response: { text: tricky[(i * 7) % tricky.length]!, tokens: Math.floor(random() * 1000), ok: i % 3 !== 0, none: null },
    n: i === 5 ? -1.5e-7 : i,
  }));
}

describe('jsonArrayElements (framing a JSON array, each element parsed natively)', () => {
  const random = mulberry32(20261202);
  const values = [...records(200, random), 42, 'a string, with ] and ,', null, true, [], {}, [[[]]]];
  const pretty = Buffer.from(JSON.stringify(values, null, 2));
  const compact = Buffer.from(JSON.stringify(values));

  it('gives exactly JSON.parse\'s elements however the bytes are split (1 byte to 64 kB, random)', async () => {
    for (const bytes of [pretty, compact]) {
      for (const sizes of [() => 1, () => 2, () => 3, () => 17, () => 1 + Math.floor(random() * 300), () => 65536]) {
        const r = await collect(bytes, sizes);
        expect(r.error).toBeNull();
        expect(r.values).toEqual(JSON.parse(bytes.toString('utf8')));
      }
    }
  });

  it('an empty array has no elements; whitespace around it is fine', async () => {
    expect(await collect(Buffer.from(' \n[ \n ]\n'))).toEqual({ values: [], error: null });
  });

  it('a file cut short keeps the elements before the cut and says so', async () => {
    const cut = compact.subarray(0, Math.floor(compact.length / 2));
    const r = await collect(cut, () => 100);
    expect(r.values).toEqual((JSON.parse(compact.toString('utf8')) as unknown[]).slice(0, r.values.length));
    expect(r.values.length).toBeGreaterThan(50);
    expect(r.error).toMatch(/cut short|not valid JSON/);
  });

  it('an element full of false boundaries (`}, {` inside strings and nested arrays of objects) is framed exactly, and so are the elements after it', async () => {
    const crowded = { list: Array.from({ length: 40 }, (_, i) => ({ i })), text: '}, {"not": "a boundary"}, {' };
    const values = [{ a: 1 }, crowded, { b: 2 }, crowded, { c: 3 }];
    for (const bytes of [Buffer.from(JSON.stringify(values)), Buffer.from(JSON.stringify(values, null, 1))]) {
      for (const sizes of [() => 1, () => 7, () => 65536]) expect(await collect(bytes, sizes)).toEqual({ values, error: null });
    }
  });

  it('a damaged element in the middle keeps the elements before it and names it', async () => {
    const r = await collect(Buffer.from('[{"a":1}, {"a":2}, {"a":}, {"a":4}]'));
    expect(r).toEqual({ values: [{ a: 1 }, { a: 2 }], error: expect.stringMatching(/^element 2 is not valid JSON/) });
  });

  it.each([
    ['{"a":1}', /expected a JSON array, found "\{" at byte 0/],
    ['', /empty/],
    ['[1,]', /missing an element/],
    ['[,1]', /missing an element/],
    ['[1 2]', /element 0 is not valid JSON/],
    ['[{"a":1},{"a":}]', /element 1 is not valid JSON/],
    ['[1] 2', /after the array/],
  ])('%s is refused: %s', async (text, message) => {
    const r = await collect(Buffer.from(text));
    expect(r.error).toMatch(message);
  });
});
