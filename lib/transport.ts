// A ready transfer callback over Node's own fetch: proxies, custom headers,
// mTLS and the like come with the dispatcher and headers passed through.
import { CmpError } from './errors';
import { typeError } from './convert';
import type { TransferCallback } from './context';

export interface HttpTransportOptions {
  /** Extra request headers (Content-Type is always application/pkixcmp). */
  headers?: Record<string, string>;
  /** An undici Dispatcher (Agent, ProxyAgent, ...), passed to fetch as is. */
  dispatcher?: unknown;
  /** Per-request time limit in ms (the context's MSG_TIMEOUT also applies). */
  timeout?: number;
  /** Largest response accepted, in bytes (default 1 MiB, as OpenSSL's HTTP client would take 100 KiB). */
  maxResponseBytes?: number;
}

const CONTENT_TYPE = 'application/pkixcmp';

/**
 * A transfer callback that POSTs each PKIMessage to `url` (RFC 6712) and
 * returns the response body after checking status and content type.
 */
export function httpTransport(url: string | URL, options: HttpTransportOptions = {}): TransferCallback {
  if (typeof url !== 'string' && !(url instanceof URL)) throw typeError('url', 'a string or URL', url);
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new CmpError(`url: unsupported protocol ${target.protocol}`, { code: 'ERR_CMP_INVALID_ARGUMENT' });
  }
  const limit = options.maxResponseBytes ?? 1 << 20;
  return async (request: Buffer): Promise<Buffer> => {
    const init: Record<string, unknown> = {
      method: 'POST',
      headers: { ...options.headers, 'content-type': CONTENT_TYPE },
      body: request,
    };
    if (options.dispatcher !== undefined) init.dispatcher = options.dispatcher;
    if (options.timeout !== undefined) init.signal = AbortSignal.timeout(options.timeout);
    const res = await fetch(target, init as RequestInit);
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new CmpError(`CMP server answered HTTP ${res.status} ${res.statusText}`, { code: 'ERR_CMP_HTTP_STATUS' });
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== CONTENT_TYPE) {
      await res.body?.cancel();
      throw new CmpError(`CMP server answered with content type '${type}', not ${CONTENT_TYPE}`, {
        code: 'ERR_CMP_HTTP_CONTENT_TYPE',
      });
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > limit) {
      await res.body?.cancel();
      throw new CmpError(`CMP response of ${declared} bytes exceeds ${limit}`, { code: 'ERR_CMP_HTTP_TOO_LARGE' });
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > limit) {
      throw new CmpError(`CMP response of ${body.length} bytes exceeds ${limit}`, { code: 'ERR_CMP_HTTP_TOO_LARGE' });
    }
    return body;
  };
}
