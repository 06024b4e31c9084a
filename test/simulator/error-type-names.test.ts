import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../runtime/simulator/index.ts';
import { errorTypeForStatus } from '../../runtime/simulator/wire.ts';
import { post } from './http.ts';

/** The error `type` of the simulator's error bodies reads as vLLM writes it: one "Error" suffix. */
describe("error types named as vLLM names them", () => {
  it('status → type: 400 BadRequestError, 404 NotFoundError, 500 InternalServerError (not InternalServerErrorError), 503 ServiceUnavailableError', () => {
    expect([400, 404, 500, 502, 503].map(errorTypeForStatus)).toEqual(['BadRequestError', 'NotFoundError', 'InternalServerError', 'BadGatewayError', 'ServiceUnavailableError']);
  });

  it('an injected HTTP 500 answers {"error": {"type": "InternalServerError", "code": 500, …}}', async () => {
    const sim = await startSimulator({ ttftMs: 1, itlMs: 1, jitterMs: 0, errorRate: 1, failureModes: ['status'], errorStatus: 500 });
    try {
      const res = await post(sim, '/v1/completions', { prompt: 'a b', max_tokens: 4, stream: true });

      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: unknown }).error).toEqual({
        message: 'Simulated failure: the simulator injected HTTP 500 (errorRate 1).',
        type: 'InternalServerError',
        param: null,
        code: 500,
      });
    } finally {
      await sim.close();
    }
  });
});
