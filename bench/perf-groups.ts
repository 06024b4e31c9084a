/**
 * Two clients' perf profiles (bench/perf-window.sh's OUT.data.syms) side by side: CPU per content
 * event by kind of work — each JS file, undici, the collector, malloc, zlib, JSON, the kernel.
 *
 *   node --import tsx bench/perf-groups.ts A.data.syms B.data.syms [events] [hz]
 *
 * `events` = content events in the window (default 384,000: 100 req/s × 30 s × 128 tokens).
 */
import { readFileSync } from 'node:fs';

const [a, b] = process.argv.slice(2, 4);
if (!a || !b) {
  console.error('usage: bench/perf-groups.ts A.data.syms B.data.syms [events] [hz]\nFix: give the two symbol tables bench/perf-window.sh wrote.');
  process.exit(2);
}
const events = Number(process.argv[4] ?? 384_000);
const hz = Number(process.argv[5] ?? 1999);

const KINDS: Array<[string, RegExp]> = [
  ['malloc', /malloc|free|unlink_chunk|consolidate|_int_|tcache/],
  ['zlib', /deflate|build_tree|compress_block|send_tree|longest_match|crc32|pqdownheap|gen_bitlen|_tr_|fill_window|scan_tree|inflate/],
  ['V8 collector', /Scaveng|ArrayBufferSweeper|SemiSpace|MarkCompact|Sweeper|Heap::|Evacuat|Marking|BackingStore|NewSpace|RememberedSet/],
  ['JSON', /Json|Dtoa|DoubleToCString|StringTable/],
  ['libc memcmp/memchr/memcpy', /memcmp|memchr|memcpy|memmove|memset/],
];

/** The kind of work a symbol of `perf report --sort sym` is. */
function kind(sym: string): string {
  if (sym.includes('JS:')) {
    const url = /(node:[\w/]+|file:\/\/\S+|\/\S+):\d+:\d+$/.exec(sym)?.[1]?.replace('file://', '');
    if (!url) return 'JS (other)';
    if (url.includes('node_modules/undici')) return 'JS undici';
    if (url.includes('node_modules/hdr-histogram-js')) return 'JS hdr-histogram';
    if (url.startsWith('node:')) return `JS ${url.split('/').slice(0, 2).join('/')}`;
    return `JS ${url.replace(/.*?\/(runtime|bench)\//, '$1/')}`;
  }
  for (const [name, re] of KINDS) if (re.test(sym)) return name;
  if (sym.startsWith('[k]')) return 'kernel';
  if (sym.includes('Builtins_')) return 'V8 builtins';
  return 'other native';
}

function load(file: string): Map<string, number> {
  const by = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const k = kind(m[2]!.trim());
    by.set(k, (by.get(k) ?? 0) + Number(m[1]));
  }
  return by;
}

const [ga, gb] = [load(a), load(b)];
const us = (samples: number): number => (samples / hz / events) * 1e6;
const total = (g: Map<string, number>): number => [...g.values()].reduce((x, y) => x + y, 0);
console.log(`| kind of work | ${a} µs / event | ${b} µs / event | difference |`);
console.log('|---|---:|---:|---:|');
const kinds = [...new Set([...ga.keys(), ...gb.keys()])].sort((x, y) => (gb.get(y) ?? 0) - (ga.get(y) ?? 0) - ((gb.get(x) ?? 0) - (ga.get(x) ?? 0)));
for (const k of kinds) {
  const [x, y] = [us(ga.get(k) ?? 0), us(gb.get(k) ?? 0)];
  // Kinds too small to matter on either side, and equal on both, are left out.
  if (Math.abs(y - x) < 0.01 && x + y < 0.05) continue;
  console.log(`| ${k} | ${x.toFixed(2)} | ${y.toFixed(2)} | ${(y - x).toFixed(2)} |`);
}
const [ta, tb] = [us(total(ga)), us(total(gb))];
console.log(`| **all** | ${ta.toFixed(2)} | ${tb.toFixed(2)} | ${(tb - ta).toFixed(2)} |`);
