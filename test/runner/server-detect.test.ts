import { describe, expect, it } from 'vitest';
import { contextLength, detectFromModels, detectServer } from '../../runtime/runner/server-detect.ts';

/**
 * Which server answers, from the bytes each one sends (read from their source: see
 * runtime/simulator/dialects/*.ts for files and commits). Pure: the answers are inputs.
 */
describe('detectServer', () => {
  const model = (owned_by: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'm', object: 'model', created: 0, owned_by, ...extra });

  it('vLLM, SGLang, TensorRT-LLM and llama.cpp name themselves in /v1/models owned_by', () => {
    expect(detectFromModels({ models: [model('vllm', { max_model_len: 32768 })], serverHeader: 'uvicorn' })).toEqual({ type: 'vllm', evidence: 'GET /v1/models: owned_by "vllm"' });
    expect(detectFromModels({ models: [model('sglang')], serverHeader: 'uvicorn' })?.type).toBe('sglang');
    expect(detectFromModels({ models: [model('tensorrt_llm')], serverHeader: null })?.type).toBe('trtllm');
    expect(detectFromModels({ models: [model('llamacpp', { meta: { n_ctx: 4096 } })], serverHeader: 'llama.cpp' })?.type).toBe('llamacpp');
  });

  it("llama.cpp's Server header tells when owned_by does not", () => {
    expect(detectFromModels({ models: [model('someone')], serverHeader: 'llama.cpp' })).toEqual({ type: 'llamacpp', evidence: 'Server header "llama.cpp"' });
  });

  it("TGI (owned_by is the model id) is told by /info's router; Ollama (owned_by \"library\") by /api/version", () => {
    expect(detectFromModels({ models: [model('Qwen/Qwen3-8B')], serverHeader: null })).toBeNull();
    expect(detectServer({ models: [model('Qwen/Qwen3-8B')], serverHeader: null, info: { router: 'text-generation-router', version: '3.3.6' } })).toEqual({ type: 'tgi', evidence: 'GET /info: router "text-generation-router", version 3.3.6' });
    expect(detectServer({ models: [model('library')], serverHeader: null, info: null, ollamaVersion: { version: '0.12.3' } })).toEqual({ type: 'ollama', evidence: 'GET /api/version: 0.12.3' });
  });

  it('anything else is a generic OpenAI-compatible server, and says so', () => {
    expect(detectServer({ models: [model('openai')], serverHeader: null, info: null, ollamaVersion: null }).type).toBe('openai');
  });
});

describe('contextLength', () => {
  it("reads each server's own field: max_model_len, llama.cpp's meta.n_ctx, TGI's /info max_total_tokens; none for the others", () => {
    expect(contextLength('vllm', { max_model_len: 32768 }, null)).toBe(32768);
    expect(contextLength('llamacpp', { meta: { n_ctx: 4096, n_ctx_train: 40960 } }, null)).toBe(4096);
    expect(contextLength('tgi', { id: 'x' }, { max_total_tokens: 8192 })).toBe(8192);
    expect(contextLength('trtllm', { id: 'x' }, null)).toBeNull();
    expect(contextLength('ollama', { id: 'x' }, null)).toBeNull();
  });
});
