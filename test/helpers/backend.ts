import { inject, it } from 'vitest';

/**
 * `it` for a test whose subject does not depend on the Milvus behind it (the chat endpoint, a key's
 * redaction, usage errors, a snapshot file's checks): the Lite project runs it and the real
 * server's project skips it, so the server's minutes go to what can differ there.
 */
export const backendIndependent = it.skipIf(inject('milvusBackend') === 'server');
