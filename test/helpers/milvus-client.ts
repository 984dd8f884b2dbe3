import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { MILVUS_CHANNEL_OPTIONS } from '../../src/store/milvus.js';

/**
 * An SDK client for tests that look at the server directly, with ragoss's own channel options.
 * With the SDK's defaults (a ping every 10 s, calls or not) the server sent GOAWAY for excess pings
 * on a connection grpc-js shares between clients of one worker, and a test's query failed with
 * "RESOURCE_EXHAUSTED: Bandwidth exhausted" after a long ingest.
 */
export function testMilvusClient(address: string, timeoutMs?: number): MilvusClient {
  const client = new MilvusClient({
    address: address.replace(/^https?:\/\//, ''),
    logLevel: 'error',
    channelOptions: MILVUS_CHANNEL_OPTIONS,
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
  });
  // The constructor starts connecting; a failure surfaces in the first call, not as an unhandled rejection.
  client.connectPromise.catch(() => undefined);
  return client;
}

/** The physical collections on the server, listed by the SDK itself (not through ragoss's alias view). */
export async function physicalCollectionNames(address: string): Promise<string[]> {
  const client = testMilvusClient(address);
  try {
    return (await client.listCollections()).data.map((collection) => collection.name);
  } finally {
    await client.closeConnection();
  }
}
