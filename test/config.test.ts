import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAT_BASE_URL, DEFAULT_CHAT_MODEL, DEFAULT_COLLECTION, resolveChatConfig, resolveCommonConfig } from '../src/config.js';
import { parseMilvusUri } from '../src/store/location.js';
import { UsageError } from '../src/errors.js';

describe('parseMilvusUri (pymilvus rules)', () => {
  it('treats URLs and host:port as servers', () => {
    expect(parseMilvusUri('http://localhost:19530', '/h', undefined)).toEqual({ kind: 'server', address: 'localhost:19530', ssl: false, token: undefined });
    expect(parseMilvusUri('https://in03.zillizcloud.com', '/h', 'tok')).toEqual({ kind: 'server', address: 'in03.zillizcloud.com:443', ssl: true, token: 'tok' });
    expect(parseMilvusUri('milvus.internal:19530', '/h', undefined)).toMatchObject({ kind: 'server', address: 'milvus.internal:19530' });
  });

  it('treats paths as embedded Milvus Lite data, and defaults to the ragoss home', () => {
    expect(parseMilvusUri('./milvus.db', '/h', undefined)).toEqual({ kind: 'embedded', dataDir: resolve('milvus.db') });
    expect(parseMilvusUri('~/data/milvus', '/h', undefined)).toEqual({ kind: 'embedded', dataDir: join(homedir(), 'data/milvus') });
    expect(parseMilvusUri(undefined, '/h', undefined)).toEqual({ kind: 'embedded', dataDir: '/h/milvus' });
  });

  it('rejects other schemes as usage errors', () => {
    expect(() => parseMilvusUri('ftp://x:1', '/h', undefined)).toThrow(UsageError);
  });
});

describe('resolveCommonConfig', () => {
  it('takes flags over env vars over defaults', () => {
    const env = { RAGOSS_HOME: '/tmp/rh', RAGOSS_COLLECTION: 'from_env', MILVUS_URI: 'http://envhost:19530', RAGOSS_EMBEDDING_MODEL: 'env/model' };
    expect(resolveCommonConfig({}, {}).collection).toBe(DEFAULT_COLLECTION);
    const fromEnv = resolveCommonConfig({}, env);
    expect(fromEnv).toMatchObject({ home: '/tmp/rh', collection: 'from_env', location: { kind: 'server', address: 'envhost:19530' } });
    expect(fromEnv.embedding.explicitModel).toBe('env/model');
    const fromFlags = resolveCommonConfig({ collection: 'from_flag', milvusUri: '/tmp/lite', embeddingModel: 'flag/model' }, env);
    expect(fromFlags).toMatchObject({ collection: 'from_flag', location: { kind: 'embedded', dataDir: '/tmp/lite' } });
    expect(fromFlags.embedding.explicitModel).toBe('flag/model');
  });

  it('collects secrets so they can be redacted', () => {
    const config = resolveCommonConfig({}, { MILVUS_TOKEN: 'root:Milvus', OPENROUTER_API_KEY: 'sk-or-123' });
    expect(config.secrets).toEqual(['root:Milvus', 'sk-or-123']);
  });

  it('rejects collection names Milvus or ragoss cannot use', () => {
    expect(() => resolveCommonConfig({ collection: 'has-dash' }, {})).toThrow(UsageError);
    expect(() => resolveCommonConfig({ collection: 'double__underscore' }, {})).toThrow(UsageError);
  });
});

describe('resolveChatConfig', () => {
  it('defaults to gpt-oss-20b on OpenRouter with the OpenRouter key', () => {
    const chat = resolveChatConfig({}, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' });
    expect(chat).toMatchObject({ baseUrl: DEFAULT_CHAT_BASE_URL, model: DEFAULT_CHAT_MODEL, apiKey: 'or' });
  });

  it('prefers OPENAI_API_KEY for other endpoints and accepts none for local ones', () => {
    expect(resolveChatConfig({ baseUrl: 'http://localhost:8000/v1' }, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' }).apiKey).toBe('oa');
    expect(resolveChatConfig({ baseUrl: 'http://localhost:11434/v1', model: 'gpt-oss:20b' }, {})).toMatchObject({ apiKey: undefined, model: 'gpt-oss:20b' });
  });

  it('validates numbers and reasoning effort', () => {
    expect(() => resolveChatConfig({ maxTokens: '-1' }, {})).toThrow(UsageError);
    expect(() => resolveChatConfig({ reasoningEffort: 'extreme' }, {})).toThrow(UsageError);
    expect(resolveChatConfig({ reasoningEffort: 'low', maxTokens: '2048' }, {})).toMatchObject({ reasoningEffort: 'low', maxTokens: 2048 });
  });
});
