import type { TestProject } from 'vitest/node';
import { startRealMilvus, type TestMilvus } from './helpers/milvus-server.js';

let milvus: TestMilvus | undefined;

/** The "server" project: the same store and CLI suites, against a real Milvus standalone server. */
export async function setup(project: TestProject): Promise<void> {
  milvus = await startRealMilvus();
  project.provide('milvusUri', milvus.uri);
  project.provide('milvusBackend', 'server');
}

export async function teardown(): Promise<void> {
  await milvus?.stop();
}
