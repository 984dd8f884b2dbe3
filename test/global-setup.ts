import type { TestProject } from 'vitest/node';
import { startTestMilvus, type TestMilvus } from './helpers/milvus-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    milvusUri: string;
  }
}

let milvus: TestMilvus | undefined;

/** One Milvus Lite server for the whole run; each test file uses its own collection names. */
export async function setup(project: TestProject): Promise<void> {
  milvus = await startTestMilvus();
  project.provide('milvusUri', milvus.uri);
}

export async function teardown(): Promise<void> {
  await milvus?.stop();
}
