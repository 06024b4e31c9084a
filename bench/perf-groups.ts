/**
 * An interleaved bench's perf samples (bench/perf-window.sh's OUT.script) placed in each client's
 * load windows (OUT.windows): CPU per content event of each client by kind of work — each JS file,
 * undici, the collector, malloc, zlib, JSON, the kernel — and of each window alone, for the spread.
 *
 *   node --import tsx bench/perf-groups.ts OUT.script OUT.windows [hz]
 */
import { parseLoadWindows, readBenchInput, type LoadWindow } from './support/load-windows.ts';

const [scriptFile, windowsFile, hzArg] = process.argv.slice(2);
if (!scriptFile || !windowsFile) {
  console.error('usage: bench/perf-groups.ts OUT.script OUT.windows [hz]\nFix: give the samples and the windows bench/perf-window.sh wrote.');
  process.exit(2);
}
const hz = Number(hzArg ?? 1999);

const KINDS: Array<[string, RegExp]> = [
  ['malloc / free', /malloc|free|unlink_chunk|consolidate|_int_|tcache/],
  ['zlib (the records)', /deflate|build_tree|compress_block|send_tree|longest_match|crc32|pqdownheap|gen_bitlen|_tr_|fill_window|scan_tree|inflate/],
  ['V8 collector', /Scaveng|ArrayBufferSweeper|SemiSpace|MarkCompact|Sweeper|Heap::|Evacuat|Marking|BackingStore|NewSpace|RememberedSet/],
  ['JSON', /Json|Dtoa|DoubleToCString|StringTable/],
  ['libc memcmp / memchr / memcpy', /memcmp|memchr|memcpy|memmove|memset/],
];

/** The kind of work a sample's symbol is. */
function kind(sym: string, dso: string): string {
  // V8's jitdump names WebAssembly code `JS:wasm-function[…]`: undici's llhttp.
  if (sym.includes('wasm-function')) return "undici's HTTP parser (llhttp, wasm)";
  if (sym.startsWith('JS:')) {
    const url = /(node:[\w/]+|file:\/\/\S+|\/\S+):\d+:\d+$/.exec(sym)?.[1]?.replace('file://', '');
    if (!url) return 'JS (other)';
    if (url.includes('node_modules/undici')) return 'JS undici';
    if (url.includes('node_modules/hdr-histogram-js')) return 'JS hdr-histogram';
    if (url.startsWith('node:')) return `JS ${url.split('/').slice(0, 2).join('/')}`;
    return `JS ${url.replace(/.*?\/(runtime|bench)\//, '$1/')}`;
  }
  for (const [name, re] of KINDS) if (re.test(sym)) return name;
  if (dso.includes('kernel')) return 'kernel';
  if (/^Builtins?[_:]|^BytecodeHandler:|^Stub:/.test(sym)) return 'V8 builtins and interpreter';
  return 'other native (Node, V8, libuv)';
}

const FIX = 'give the samples and the windows bench/perf-window.sh wrote.';
const windows: Array<LoadWindow & { samples: Map<string, number> }> = parseLoadWindows(readBenchInput(windowsFile, FIX)).map((x) => ({ ...x, samples: new Map<string, number>() }));

// Samples come in time order: one pass, each placed in the window it fell in (or none: setup, drain checks).
let w = 0;
for (const line of readBenchInput(scriptFile, FIX).split('\n')) {
  const m = /^\s*([\d.]+):\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
  if (!m) continue;
  const t = Number(m[1]);
  while (w < windows.length && windows[w]!.to < t) w++;
  const win = windows[w];
  if (!win || t < win.from) continue;
  const k = kind(m[2]!, m[3]!);
  win.samples.set(k, (win.samples.get(k) ?? 0) + 1);
}

const us = (samples: number, events: number): number => (samples / hz / Math.max(1, events)) * 1e6;
const sum = (xs: Iterable<number>): number => [...xs].reduce((a, b) => a + b, 0);
console.log('Each load window, µs per content event (all samples of the main thread):\n');
for (const x of windows) console.log(`- ${x.client}: ${us(sum(x.samples.values()), x.events).toFixed(2)} (${(x.to - x.from).toFixed(1)} s, ${x.events} events)`);

// The bench's clients in their usual order, any other after them.
const ORDER = ['floor', 'undici', 'runner'];
const seen = new Set(windows.map((x) => x.client));
const clients = [...ORDER.filter((c) => seen.has(c)), ...[...seen].filter((c) => !ORDER.includes(c))];
const totals = new Map(clients.map((c) => [c, { events: 0, samples: new Map<string, number>() }]));
for (const x of windows) {
  const t = totals.get(x.client)!;
  t.events += x.events;
  for (const [k, n] of x.samples) t.samples.set(k, (t.samples.get(k) ?? 0) + n);
}
const value = (c: string, k: string): number => us(totals.get(c)!.samples.get(k) ?? 0, totals.get(c)!.events);
// Sorted by what the last client (the runner) adds over the one before it (the floor on undici).
const [first, last] = [clients[Math.max(0, clients.length - 2)]!, clients[clients.length - 1]!];
const kinds = [...new Set(windows.flatMap((x) => [...x.samples.keys()]))].sort((a, b) => value(last, b) - value(first, b) - (value(last, a) - value(first, a)));
console.log(`\n| kind of work (µs per content event) | ${clients.join(' | ')} |`);
console.log(`|---|${clients.map(() => '---:').join('|')}|`);
for (const k of kinds) {
  const vs = clients.map((c) => value(c, k));
  // Kinds too small to matter for any client are left out.
  if (Math.max(...vs) < 0.03) continue;
  console.log(`| ${k} | ${vs.map((v) => v.toFixed(2)).join(' | ')} |`);
}
console.log(`| **all of the main thread** | ${clients.map((c) => `**${us(sum(totals.get(c)!.samples.values()), totals.get(c)!.events).toFixed(2)}**`).join(' | ')} |`);
