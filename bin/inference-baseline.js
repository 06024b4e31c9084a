#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx so `npm ci && npm start` needs no build step.
import { register } from 'tsx/esm/api';

// The pinned AWS SDK supports Node 20; on Node < 22 it prints, on every command, that releases
// published after January 2027 will need Node 22 — a notice about future SDK versions, not these
// (README "Requirements"). Lambda and the Job run Node 22, where it never appears.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
// The composition root: runtime/ never imports infra/, so the stack the `workflow` command runs
// locally is handed in here (loaded only by that command: the others start without CDK).
const { main } = await import('../runtime/cli/entry.ts');
await main({ localStack: async () => (await import('../infra/local-stack.ts')).localStack });
