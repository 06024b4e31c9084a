import { InputError } from '../core/errors.ts';

/** An AWS SDK failure as the SDK throws it: a service error, a Node network error, or a config error. */
export interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: { code?: string };
}

/** Network failures that say the endpoint could not be reached (not that it refused the request). */
export const UNREACHABLE_CODES = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'];

/** The network error code of a failed call, if it is one. */
export function networkCode(err: SdkError): string | undefined {
  const code = err.code ?? err.cause?.code;
  return code && UNREACHABLE_CODES.includes(code) ? code : undefined;
}

/**
 * What every AWS client gets wrong the same way on a user's machine — no region, a region that is
 * not one, no credentials — as the one thing to fix; null for anything else. `regionFix` is the
 * command's own way out (e.g. an ARN whose region is used).
 */
export function sdkConfigProblem(err: SdkError, where: string, regionFix = 'set AWS_REGION (or AWS_DEFAULT_REGION, or a region in your AWS profile).'): InputError | null {
  const message = err.message ?? '';
  if (/Region is missing/i.test(message)) return new InputError(where, ['no AWS region is set'], regionFix);
  const badRegion = /Region not accepted: region="([^"]*)"/.exec(message);
  if (badRegion) return new InputError(where, [`the AWS region "${badRegion[1]}" is not a region name`], 'set AWS_REGION to a region such as us-west-2.');
  if (err.name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new InputError(where, ['no AWS credentials were found (environment, profile, SSO, container or instance role)'], 'set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached.');
  }
  return null;
}
