import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RagossError, errorMessage } from '../errors.js';
import type { Progress, ProgressTask } from '../progress.js';
import { configDimension, profileFor, type Embedder, type EmbeddingDtype, type ModelProfile } from './embedder.js';
import { planBatches } from './batching.js';
import { ModelFileCache } from './model-files.js';

/** What locates a model: its name, a local directory or the download cache, and whether to download. */
export type ModelSource = Pick<TransformersEmbedderOptions, 'modelName' | 'modelDir' | 'cacheDir' | 'offline' | 'hubEndpoint'>;

/** The slice of transformers.js's `env` that says where models come from. */
type TransformersEnv = (typeof import('@huggingface/transformers'))['env'];

export interface TransformersEmbedderOptions {
  modelName: string;
  /** Read the model from modelDir/modelName and never download. */
  modelDir?: string;
  /** Where hub downloads are cached. */
  cacheDir: string;
  offline: boolean;
  dtype: EmbeddingDtype;
  batchSize: number;
  progress: Progress;
  /** Download from this hub mirror instead of huggingface.co. */
  hubEndpoint?: string;
}

/** The slice of transformers.js's feature-extraction pipeline that ragoss uses. */
interface FeatureExtractor {
  (texts: string[], options: { pooling: string; normalize: boolean }): Promise<{ dims: number[]; data: Float32Array }>;
  model: { config: Record<string, unknown> };
  tokenizer: {
    (text: string): { input_ids: { dims: number[] } };
    (texts: string[], options: { truncation: boolean; padding: boolean; return_tensor: false }): { input_ids: number[][] };
    model_max_length?: number;
  };
  dispose(): Promise<void>;
}

/**
 * ONNX Runtime's CPU memory arena rounds allocations up and keeps them: with it, loading the
 * 435 MB fp32 model peaks ~250 MB higher, and embedding is no faster without it.
 */
export const SESSION_OPTIONS = { enableCpuMemArena: false };

/** Whether the model's files are on disk already, so no download is needed. */
export function modelIsLocal(options: Pick<TransformersEmbedderOptions, 'modelName' | 'modelDir' | 'cacheDir'>): boolean {
  const root = options.modelDir ?? options.cacheDir;
  return existsSync(join(root, options.modelName, 'config.json')) && existsSync(join(root, options.modelName, 'onnx'));
}

/** Reads the model from root/NAME only, never from the network. */
function readLocally(env: { localModelPath: string; allowLocalModels: boolean; allowRemoteModels: boolean; customCache: unknown }, root: string, modelName: string): void {
  const absoluteRoot = resolve(root);
  env.localModelPath = `${absoluteRoot}/`;
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.customCache = new ModelFileCache(absoluteRoot, modelName);
}

function readDimension(config: Record<string, unknown>, modelName: string): number {
  const dimension = configDimension(config);
  if (dimension === undefined) {
    throw new RagossError(`cannot tell the embedding dimension of ${modelName} from its config.json`, 'use a sentence-embedding model with a hidden_size in config.json');
  }
  return dimension;
}


/** Where transformers.js reads a model from: a --model-dir, the download cache offline, or the hub (through ragoss's cache). */
export function useModelSource(env: TransformersEnv, options: ModelSource, what: string): void {
  env.cacheDir = options.cacheDir;
  env.useCustomCache = true;
  if (options.modelDir !== undefined) {
    if (!existsSync(join(options.modelDir, options.modelName, 'config.json'))) {
      throw new RagossError(
        `${what} ${options.modelName} is not in ${options.modelDir}`,
        `put it at ${join(options.modelDir, options.modelName)} (config.json, tokenizer.json, onnx/) or drop --model-dir to download it`,
      );
    }
    readLocally(env, options.modelDir, options.modelName);
  } else if (options.offline) {
    if (!modelIsLocal(options)) {
      throw new RagossError(`${what} ${options.modelName} is not cached in ${options.cacheDir} and --offline forbids downloading it`, 'run once without --offline, or point --model-dir at a local copy');
    }
    // The download cache has the local-model layout (cacheDir/NAME/file): read it as one.
    readLocally(env, options.cacheDir, options.modelName);
  } else {
    env.allowLocalModels = false;
    env.allowRemoteModels = true;
    if (options.hubEndpoint !== undefined) env.remoteHost = options.hubEndpoint.endsWith('/') ? options.hubEndpoint : `${options.hubEndpoint}/`;
    // The URL prefix transformers.js builds for this model's files (its pathJoin of host and template).
    const template = env.remotePathTemplate.replaceAll('{model}', options.modelName).replaceAll('{revision}', 'main');
    const remotePrefix = `${env.remoteHost.replace(/\/$/, '')}/${template.replace(/^\//, '').replace(/\/$/, '')}/`;
    env.customCache = new ModelFileCache(resolve(options.cacheDir), options.modelName, remotePrefix);
  }
}

export function downloadReporter(progress: Progress): (info: { status: string; file?: string; loaded?: number; total?: number }) => void {
  const tasks = new Map<string, ProgressTask>();
  return (info) => {
    if (info.file === undefined) return;
    if (info.status === 'progress' && info.total !== undefined && info.loaded !== undefined) {
      let task = tasks.get(info.file);
      if (task === undefined) {
        task = progress.task(`downloading ${info.file}`, info.total, 'bytes');
        tasks.set(info.file, task);
      }
      task.update(info.loaded);
    } else if (info.status === 'done') {
      tasks.get(info.file)?.done();
      tasks.delete(info.file);
    }
  };
}

export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly modelName: string,
    readonly dtype: string,
    readonly dimension: number,
    private readonly extractor: FeatureExtractor,
    private readonly profile: ModelProfile,
    private readonly batchSize: number,
  ) {}

  /** The same loaded model, embedding `batchSize` texts a model call: no second copy of the weights. */
  withBatchSize(batchSize: number): TransformersEmbedder {
    if (batchSize === this.batchSize) return this;
    return new TransformersEmbedder(this.modelName, this.dtype, this.dimension, this.extractor, this.profile, batchSize);
  }

  static async load(options: TransformersEmbedderOptions): Promise<TransformersEmbedder> {
    // Imported here, not at the top: onnxruntime is heavy and commands that never embed skip it.
    const transformers = await import('@huggingface/transformers');
    useModelSource(transformers.env, options, 'embedding model');
    options.progress.step(`loading embedding model ${options.modelName}`);
    let extractor: FeatureExtractor;
    try {
      extractor = (await transformers.pipeline('feature-extraction', options.modelName, {
        dtype: options.dtype,
        session_options: SESSION_OPTIONS,
        // transformers.js reports local reads as "downloads" too; only real downloads get a bar.
        ...(modelIsLocal(options) ? {} : { progress_callback: downloadReporter(options.progress) as never }),
      })) as unknown as FeatureExtractor;
    } catch (error) {
      throw new RagossError(`cannot load embedding model ${options.modelName}: ${errorMessage(error).split('\n')[0]}`, 'check the model name, your network, or --model-dir', undefined, { cause: error });
    }
    const dimension = readDimension(extractor.model.config, options.modelName);
    return new TransformersEmbedder(options.modelName, options.dtype, dimension, extractor, profileFor(options.modelName), options.batchSize);
  }

  private async embedBatch(texts: string[]): Promise<Float32Array[]> {
    const output = await this.extractor(texts, { pooling: this.profile.pooling, normalize: true });
    const [rows, width] = output.dims as [number, number];
    if (width !== this.dimension) {
      throw new RagossError(`embedding model ${this.modelName} returned ${width}-dim vectors, not the ${this.dimension} its config promises`);
    }
    return Array.from({ length: rows }, (_, row) => output.data.slice(row * width, (row + 1) * width));
  }

  /** Token count of each text as the model will see it (special tokens in, truncated like the pipeline). */
  private tokenCounts(texts: string[]): number[] {
    return this.extractor.tokenizer(texts, { truncation: true, padding: false, return_tensor: false }).input_ids.map((ids) => ids.length);
  }

  async embedDocuments(texts: readonly string[], onEmbedded?: (count: number) => void): Promise<Float32Array[]> {
    return this.embedSorted(texts.map((text) => this.profile.documentPrefix + text), onEmbedded);
  }

  async embedQuery(text: string): Promise<Float32Array> {
    const [vector] = await this.embedBatch([this.profile.queryPrefix + text]);
    return vector as Float32Array;
  }

  async embedQueries(texts: readonly string[]): Promise<Float32Array[]> {
    return this.embedSorted(texts.map((text) => this.profile.queryPrefix + text));
  }

  /**
   * Embeds in batches of similar token length under a token budget: padding every text to the
   * longest of its batch is the main waste in transformer inference, and sorting by tokens keeps
   * it small, while the budget keeps long texts in small batches, where the CPU runs them fastest.
   */
  private async embedSorted(inputs: string[], onEmbedded?: (count: number) => void): Promise<Float32Array[]> {
    if (inputs.length === 0) return [];
    const counts = this.tokenCounts(inputs);
    const order = inputs.map((_, index) => index).sort((a, b) => (counts[a] as number) - (counts[b] as number) || a - b);
    const vectors = new Array<Float32Array>(inputs.length);
    let embedded = 0;
    for (const indices of planBatches(order, counts, this.batchSize)) {
      const batch = await this.embedBatch(indices.map((index) => inputs[index] as string));
      indices.forEach((index, position) => {
        vectors[index] = batch[position] as Float32Array;
      });
      embedded += indices.length;
      onEmbedded?.(embedded);
    }
    return vectors;
  }

  tokenBudget(text: string): { tokens: number; maxTokens: number } {
    const encoded = this.extractor.tokenizer(this.profile.queryPrefix + text);
    const tokens = encoded.input_ids.dims.at(-1) ?? 0;
    const maxTokens = this.extractor.tokenizer.model_max_length ?? Number.POSITIVE_INFINITY;
    return { tokens, maxTokens };
  }

  async close(): Promise<void> {
    await this.extractor.dispose();
  }
}
