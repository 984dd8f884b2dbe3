import { RagossError } from '../errors.js';
import type { Progress } from '../progress.js';
import { displayEndpoint, getJson, joinRoute, postJson, type ServerCall } from '../remote/http.js';
import { profileFor, type Embedder, type ModelProfile } from './embedder.js';

/** An OpenAI-compatible embeddings server (TEI, vLLM, Infinity, Ollama, OpenAI): where and how to ask it. */
export interface EmbeddingEndpointConfig {
  /** The API base: POST {url}/embeddings, GET {url}/models (e.g. http://localhost:7997, https://api.openai.com/v1). */
  url: string;
  apiKey: string | undefined;
  /** Sent as `dimensions` (OpenAI's text-embedding-3 shorten their vectors); unset: the model's own width. */
  dimensions: number | undefined;
  /** Texts per request. */
  batchSize: number;
  /** Requests in flight at once: a server batches across them. */
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  /**
   * The most tokens a chunk may have (the markdown chunker cuts under it). Without the model's
   * tokenizer, tokens are counted by a word-piece estimate that errs high.
   */
  maxTokens: number;
}

export interface EndpointEmbedderOptions extends EmbeddingEndpointConfig {
  /** The model as the server names it; unset: the one model the server lists. */
  modelName: string | undefined;
  progress: Progress;
  signal?: AbortSignal;
  sleep?: ServerCall['sleep'];
}

const KEY_ENV = 'RAGOSS_EMBEDDING_API_KEY';

/**
 * Embeds through a server that speaks OpenAI's /embeddings: nothing is downloaded and no model
 * loads here. Vectors are normalised, as the local embedder's are, so inner product is cosine.
 */
export class EndpointEmbedder implements Embedder {
  readonly dtype = undefined;
  readonly endpoint: string;

  private constructor(
    private readonly config: EndpointEmbedderOptions,
    readonly modelName: string,
    readonly dimension: number,
    private readonly profile: ModelProfile,
  ) {
    this.endpoint = displayEndpoint(config.url);
  }

  /** Names the model (asking the server when none is given) and learns its width from one probe. */
  static async connect(options: EndpointEmbedderOptions): Promise<EndpointEmbedder> {
    const modelName = options.modelName ?? (await servedModel(options));
    options.progress.step(`embedding through ${displayEndpoint(options.url)} (${modelName})`);
    const probe = new EndpointEmbedder(options, modelName, 0, profileFor(modelName));
    const [vector] = await probe.request(['dimension probe'], undefined);
    const dimension = (vector as Float32Array).length;
    if (options.dimensions !== undefined && dimension !== options.dimensions) {
      throw new RagossError(
        `embedding endpoint ${probe.endpoint} returned ${dimension}-dim vectors for ${modelName}, not the ${options.dimensions} asked for`,
        'drop RAGOSS_EMBEDDING_DIMENSIONS, or use a model that takes `dimensions` (e.g. text-embedding-3-small)',
      );
    }
    return new EndpointEmbedder(options, modelName, dimension, profileFor(modelName));
  }

  embedDocuments(texts: readonly string[], onEmbedded?: (count: number) => void): Promise<Float32Array[]> {
    return this.embedAll(texts.map((text) => this.profile.documentPrefix + text), onEmbedded);
  }

  async embedQuery(text: string): Promise<Float32Array> {
    const [vector] = await this.request([this.profile.queryPrefix + text], this.dimension);
    return vector as Float32Array;
  }

  embedQueries(texts: readonly string[]): Promise<Float32Array[]> {
    return this.embedAll(texts.map((text) => this.profile.queryPrefix + text));
  }

  tokenBudget(text: string): { tokens: number; maxTokens: number } {
    return { tokens: estimateTokens(this.profile.queryPrefix + text), maxTokens: this.config.maxTokens };
  }

  async close(): Promise<void> {
    // Nothing held: each request is its own.
  }

  /**
   * Batches of `batchSize`, `concurrency` of them in flight; vectors come back in input order.
   * Texts go out sorted by length, as the local embedder batches them: a server that pads each
   * batch to its longest text wastes least on batches of like lengths.
   */
  private async embedAll(inputs: readonly string[], onEmbedded?: (count: number) => void): Promise<Float32Array[]> {
    const vectors = new Array<Float32Array>(inputs.length);
    const order = inputs.map((_, index) => index).sort((a, b) => (inputs[a] as string).length - (inputs[b] as string).length || a - b);
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += this.config.batchSize) batches.push(order.slice(start, start + this.config.batchSize));
    let next = 0;
    let embedded = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as number[];
        const got = await this.request(batch.map((index) => inputs[index] as string), this.dimension);
        got.forEach((vector, position) => {
          vectors[batch[position] as number] = vector;
        });
        embedded += batch.length;
        onEmbedded?.(embedded);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, batches.length) }, worker));
    return vectors;
  }

  /** One POST /embeddings; `expected` is the width every vector must have (undefined: learn it). */
  private async request(input: readonly string[], expected: number | undefined): Promise<Float32Array[]> {
    const body = {
      model: this.modelName,
      input,
      encoding_format: 'float',
      ...(this.config.dimensions === undefined ? {} : { dimensions: this.config.dimensions }),
    };
    const answer = await postJson(this.call('embeddings'), body);
    const vectors = parseEmbeddings(answer, input.length, this.endpoint);
    for (const vector of vectors) {
      if (expected !== undefined && vector.length !== expected) {
        throw new RagossError(
          `embedding endpoint ${this.endpoint} returned ${vector.length}-dim vectors for ${this.modelName}, not ${expected} as before`,
          'the server changed models: point RAGOSS_EMBEDDING_URL at the server that built the collection, or re-ingest with --replace',
        );
      }
      normalize(vector);
    }
    return vectors;
  }

  private call(route: string): ServerCall {
    const { config } = this;
    return {
      what: 'embedding endpoint',
      url: joinRoute(config.url, route),
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      keyEnv: KEY_ENV,
      timeoutHint: 'raise RAGOSS_EMBEDDING_TIMEOUT, or lower RAGOSS_EMBEDDING_CONCURRENCY (a slow server queues every request in flight)',
      ...(config.signal === undefined ? {} : { signal: config.signal }),
      ...(config.sleep === undefined ? {} : { sleep: config.sleep }),
      onRetry: (message) => config.progress.warn(message),
    };
  }
}

/** The model a server serves, when it serves exactly one (GET /models, as OpenAI, vLLM, Infinity and Ollama answer). */
async function servedModel(options: EndpointEmbedderOptions): Promise<string> {
  const where = displayEndpoint(options.url);
  const hint = 'name the model with --embedding-model (env RAGOSS_EMBEDDING_MODEL)';
  const call: ServerCall = { what: 'embedding endpoint', url: joinRoute(options.url, 'models'), apiKey: options.apiKey, timeoutMs: options.timeoutMs, maxRetries: 0, keyEnv: KEY_ENV };
  let listed: unknown;
  try {
    listed = await getJson(call);
  } catch (error) {
    // A server that answers but lists nothing useful (TEI has no /models) only needs the name.
    if (error instanceof RagossError && /\(HTTP (404|405)\)/.test(error.message)) throw new RagossError(`embedding endpoint ${where} does not list its models, so ragoss cannot tell which to use`, hint);
    throw error;
  }
  const data = (listed as { data?: unknown } | null)?.data;
  const entries = (Array.isArray(data) ? data : []) as Array<{ id?: unknown; capabilities?: unknown } | null>;
  // Infinity says what each model does: a server with a reranker beside its embedder still has one to embed with.
  const embedders = entries.filter((model) => !Array.isArray(model?.capabilities) || model.capabilities.includes('embed'));
  const models = embedders.map((model) => model?.id).filter((id): id is string => typeof id === 'string');
  if (models.length === 1) return models[0] as string;
  throw new RagossError(`embedding endpoint ${where} serves ${models.length === 0 ? 'no models it names' : `${models.length} models (${models.join(', ')})`}`, hint);
}

/** OpenAI's answer shape: { data: [{ index, embedding: number[] | base64 float32 }] }, in any order. */
export function parseEmbeddings(answer: unknown, count: number, where: string): Float32Array[] {
  const data = (answer as { data?: unknown } | null)?.data;
  const bad = (why: string) =>
    new RagossError(`embedding endpoint ${where} answered in a shape other than OpenAI's /embeddings (${why})`, 'check the URL: the server must speak the OpenAI embeddings API');
  if (!Array.isArray(data)) throw bad('no "data" list');
  if (data.length !== count) throw bad(`${data.length} vectors for ${count} texts`);
  const vectors = new Array<Float32Array>(count);
  data.forEach((item: unknown, position) => {
    const { index, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
    const slot = typeof index === 'number' ? index : position;
    if (!Number.isInteger(slot) || slot < 0 || slot >= count || vectors[slot] !== undefined) throw bad(`index ${String(index)}`);
    vectors[slot] = vectorOf(embedding, bad);
  });
  return vectors;
}

function vectorOf(embedding: unknown, bad: (why: string) => Error): Float32Array {
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length === 0 || bytes.length % 4 !== 0) throw bad('base64 vector of odd length');
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((value) => typeof value === 'number' && Number.isFinite(value))) {
    throw bad('an embedding that is not a list of numbers');
  }
  return Float32Array.from(embedding as number[]);
}

function normalize(vector: Float32Array): void {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm === 0) return;
  for (let index = 0; index < vector.length; index++) vector[index] = (vector[index] as number) / norm;
}

/**
 * Tokens a word-piece or BPE tokenizer makes of `text`, erring high: every punctuation mark and
 * digit is one, a word one per 6 letters (English words average ~1.3 word pieces), plus the two
 * special tokens around the text.
 */
export function estimateTokens(text: string): number {
  let tokens = 2;
  for (const match of text.matchAll(/\p{L}+|\p{N}|[^\s\p{L}\p{N}]/gu)) {
    const piece = match[0];
    tokens += /^\p{L}/u.test(piece) ? Math.ceil(piece.length / 6) : 1;
  }
  return tokens;
}
