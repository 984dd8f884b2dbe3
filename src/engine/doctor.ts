import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpointNeedsKey, type ChatEndpoint } from '../answerer/chat.js';
import { DEFAULT_EMBEDDING_MODEL } from '../embedder/embedder.js';
import { describeLocation } from '../store/location.js';
import type { EmbeddingSettings, EngineSettings } from './settings.js';
import { configDimension } from '../embedder/embedder.js';
import { modelIsLocal } from '../embedder/transformers.js';
import { RagossError, errorMessage, redact, secretsAmong } from '../errors.js';
import { silentProgress } from '../progress.js';
import { displayEndpoint } from '../remote/http.js';
import { findMilvusLite } from '../store/milvus-lite-install.js';
import { serverFeatures, type CollectionInfo, type VectorStore } from '../store/store.js';
import { groundingCheck } from './grounding-check.js';
import type { ChatSettings, Check, DoctorReport, DoctorRequest } from './engine.js';

export interface DoctorParts {
  settings: EngineSettings;
  /** The embedding settings of the request (the caller's own, when a service runs the check). */
  embedding: EmbeddingSettings;
  signal: AbortSignal;
  store(): Promise<VectorStore>;
  chatEndpoint(chat: ChatSettings): ChatEndpoint;
}

function failureCheck(name: string, error: unknown): Check {
  return { name, status: 'fail', detail: error instanceof RagossError ? error.message : errorMessage(error), fix: error instanceof RagossError ? error.hint : undefined };
}

async function checkMilvus(request: DoctorRequest, parts: DoctorParts): Promise<{ report: DoctorReport['milvus']; checks: Check[] }> {
  const { location, home, milvusLiteExecutable } = parts.settings;
  const report: DoctorReport['milvus'] = { mode: location.kind, address: describeLocation(location), reachable: false, collections: [] };
  if (location.kind === 'embedded' && findMilvusLite(home, milvusLiteExecutable) === undefined) {
    return {
      report,
      checks: [{ name: 'milvus', status: 'warn', detail: `embedded Milvus Lite at ${report.address} is not installed yet`, fix: 'the first ingest installs it (needs Python 3), or set MILVUS_URI to a server' }],
    };
  }
  try {
    const store = await parts.store();
    report.reachable = true;
    report.serverVersion = await store.serverVersion();
    report.features = serverFeatures(report.serverVersion);
    report.collections = await store.listCollections();
  } catch (error) {
    return { report, checks: [failureCheck('milvus', error)] };
  }
  const collection = report.collections.find((info) => info.name === request.collection);
  const checks: Check[] = [
    { name: 'milvus', status: 'ok', detail: `${location.kind} ${report.address}, version ${report.serverVersion}${describeFeatures(report.features)}` },
    collection === undefined
      ? { name: 'collection', status: 'fail', detail: `${request.collection} not found`, fix: 'run `ragoss ingest`' }
      : { name: 'collection', status: 'ok', detail: `${collection.name}: ${collection.rowCount} rows, ${collection.embeddingModel} (${collection.dimension} dims), ${collection.chunker} chunks, ${collection.fullText ? 'dense + BM25 full text' : 'dense only (no full-text index)'}` },
    ...(collection === undefined ? [] : [groundingCheck(collection)]),
  ];
  return { report, checks };
}

/** Said, never failed: ragoss searches densely everywhere; full-text search only where the server has it. */
function describeFeatures(features: DoctorReport['milvus']['features']): string {
  if (features?.bm25 === undefined) return '';
  return features.bm25 ? ', full-text search (BM25) available' : ', no full-text search (BM25 needs Milvus 2.5+)';
}

function modelDimension(root: string, modelName: string): number | undefined {
  const configPath = join(root, modelName, 'config.json');
  if (!existsSync(configPath)) return undefined;
  try {
    return configDimension(JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** An embedding server answers a probe within a short wait, with vectors as wide as the collection's. */
async function checkEmbeddingServer(url: string, request: DoctorRequest, embedding: EmbeddingSettings, collection: CollectionInfo | undefined): Promise<{ report: DoctorReport['embedding']; check: Check }> {
  const shown = displayEndpoint(url);
  const modelName = request.embeddingModel ?? collection?.embeddingModel;
  const report: DoctorReport['embedding'] = { model: modelName ?? '', dimension: null, local: false, location: shown };
  try {
    const { EndpointEmbedder } = await import('../embedder/endpoint.js');
    const { server } = embedding;
    const embedder = await EndpointEmbedder.connect({ ...server, url, modelName, timeoutMs: Math.min(server.timeoutMs, 10_000), maxRetries: 0, progress: silentProgress });
    report.model = embedder.modelName;
    report.dimension = embedder.dimension;
    if (collection !== undefined && collection.dimension !== embedder.dimension) {
      return { report, check: { name: 'embedding', status: 'fail', detail: `${shown} makes ${embedder.dimension}-dim vectors of ${embedder.modelName}; ${collection.name} holds ${collection.dimension}-dim ones`, fix: 'point RAGOSS_EMBEDDING_URL at the server that built the collection, or re-ingest with --replace' } };
    }
    return { report, check: { name: 'embedding', status: 'ok', detail: `${embedder.modelName} (${embedder.dimension} dims) through ${shown}` } };
  } catch (error) {
    return { report, check: failureCheck('embedding', error) };
  }
}

async function checkEmbedding(request: DoctorRequest, embedding: EmbeddingSettings, collection: CollectionInfo | undefined): Promise<{ report: DoctorReport['embedding']; check: Check }> {
  const serverUrl = embedding.url ?? collection?.embeddingEndpoint;
  if (serverUrl !== undefined) return checkEmbeddingServer(serverUrl, request, embedding, collection);
  const modelName = request.embeddingModel ?? collection?.embeddingModel ?? DEFAULT_EMBEDDING_MODEL;
  const { modelDir, cacheDir, offline } = embedding;
  const cached = modelIsLocal({ modelName, modelDir, cacheDir });
  const dimension = modelDimension(modelDir ?? cacheDir, modelName);
  const report = { model: modelName, dimension: dimension ?? null, local: cached, location: join(modelDir ?? cacheDir, modelName) };
  if (cached) return { report, check: { name: 'embedding', status: 'ok', detail: `${modelName} (${dimension ?? '?'} dims) at ${report.location}` } };
  const mustBeLocal = offline || modelDir !== undefined;
  return {
    report,
    check: mustBeLocal
      ? { name: 'embedding', status: 'fail', detail: `${modelName} not found at ${report.location}`, fix: 'put the model there, or drop --offline/--model-dir to download it' }
      : { name: 'embedding', status: 'warn', detail: `${modelName} not downloaded yet`, fix: 'the first ingest or search downloads it into the ragoss home' },
  };
}

async function checkChat(chat: ChatSettings, parts: DoctorParts): Promise<{ report: DoctorReport['chat']; check: Check }> {
  const report: DoctorReport['chat'] = { baseUrl: chat.baseUrl, model: chat.model, keySet: chat.apiKey !== undefined, answers: false };
  if (chat.apiKey === undefined && endpointNeedsKey(chat.baseUrl)) {
    return { report, check: { name: 'chat', status: 'fail', detail: `${chat.baseUrl} needs an API key and none is set`, fix: 'export OPENROUTER_API_KEY=... or use a local --base-url' } };
  }
  try {
    const models = await parts.chatEndpoint(chat).listModels(parts.signal);
    report.answers = true;
    const listed = models.length === 0 || models.includes(chat.model);
    return {
      report,
      check: listed
        ? { name: 'chat', status: 'ok', detail: `${chat.baseUrl} answers; model ${chat.model}; key ${chat.apiKey ? 'set' : 'not set'}` }
        : { name: 'chat', status: 'warn', detail: `${chat.baseUrl} answers but does not list ${chat.model}`, fix: 'check --model' },
    };
  } catch (error) {
    return { report, check: failureCheck('chat', error) };
  }
}

/** Checks what ingest, search and ask need: Milvus, the collection, the embedding model, the chat endpoint. */
export async function runDoctor(request: DoctorRequest, parts: DoctorParts): Promise<DoctorReport> {
  const milvus = await checkMilvus(request, parts);
  const embedding = await checkEmbedding(request, parts.embedding, milvus.report.collections.find((info) => info.name === request.collection));
  const chat = await checkChat(request.chat, parts);
  // An endpoint may quote a key back in its error (some echo the Authorization header): the report
  // is printed and sent over the API, so no check carries one.
  const secrets = secretsAmong(request.chat.apiKey, parts.settings.location.kind === 'server' ? parts.settings.location.token : undefined, parts.embedding.server.apiKey);
  const hide = (check: Check): Check => ({ ...check, detail: redact(check.detail, secrets), fix: check.fix === undefined ? undefined : redact(check.fix, secrets) });
  const checks = [...milvus.checks, embedding.check, chat.check].map(hide);
  return { ok: checks.every((check) => check.status !== 'fail'), milvus: milvus.report, embedding: embedding.report, chat: chat.report, checks };
}
