import { RagossError, errorMessage } from '../errors.js';
import type { Progress } from '../progress.js';
import type { EmbeddingDtype } from '../embedder/embedder.js';
import { SESSION_OPTIONS, downloadReporter, modelIsLocal, useModelSource, type ModelSource } from '../embedder/transformers.js';
import type { Reranker } from './reranker.js';

export interface CrossEncoderOptions extends ModelSource {
  dtype: EmbeddingDtype;
  progress: Progress;
}

/** The slice of transformers.js's tokenizer and sequence-classification model that reranking uses. */
interface PairTokenizer {
  (texts: string[], options: { text_pair: string[]; padding: boolean; truncation: boolean }): Record<string, unknown>;
}
interface Classifier {
  (inputs: Record<string, unknown>): Promise<{ logits: { dims: number[]; data: Float32Array } }>;
  dispose(): Promise<unknown>;
}

/** Pairs per model call: a cross-encoder reads question and passage together, so calls are long. */
const PAIRS_PER_CALL = 8;

/**
 * A cross-encoder (a sequence-classification model over question and passage) run here through
 * transformers.js, found and downloaded like the embedding model. One logit: its value is the
 * score; two: the "relevant" logit minus the other (the log-odds a softmax would rank by).
 */
export class CrossEncoderReranker implements Reranker {
  private constructor(
    readonly name: string,
    private readonly tokenizer: PairTokenizer,
    private readonly model: Classifier,
  ) {}

  static async load(options: CrossEncoderOptions): Promise<CrossEncoderReranker> {
    const transformers = await import('@huggingface/transformers');
    useModelSource(transformers.env, options, 'rerank model');
    options.progress.step(`loading rerank model ${options.modelName}`);
    try {
      const progress = modelIsLocal(options) ? {} : { progress_callback: downloadReporter(options.progress) as never };
      const tokenizer = (await transformers.AutoTokenizer.from_pretrained(options.modelName, progress)) as unknown as PairTokenizer;
      const model = (await transformers.AutoModelForSequenceClassification.from_pretrained(options.modelName, {
        dtype: options.dtype,
        session_options: SESSION_OPTIONS,
        ...progress,
      })) as unknown as Classifier;
      return new CrossEncoderReranker(options.modelName, tokenizer, model);
    } catch (error) {
      throw new RagossError(`cannot load rerank model ${options.modelName}: ${errorMessage(error).split('\n')[0]}`, 'it must be a cross-encoder (sequence classification) with ONNX weights, e.g. Xenova/ms-marco-MiniLM-L-6-v2', undefined, { cause: error });
    }
  }

  async score(question: string, passages: readonly string[], signal: AbortSignal): Promise<number[]> {
    const scores: number[] = [];
    for (let start = 0; start < passages.length; start += PAIRS_PER_CALL) {
      signal.throwIfAborted();
      const batch = passages.slice(start, start + PAIRS_PER_CALL);
      const inputs = this.tokenizer(new Array<string>(batch.length).fill(question), { text_pair: [...batch], padding: true, truncation: true });
      const { logits } = await this.model(inputs);
      const labels = logits.dims.at(-1) ?? 1;
      for (let row = 0; row < batch.length; row++) {
        const first = logits.data[row * labels] as number;
        scores.push(labels === 1 ? first : (logits.data[row * labels + 1] as number) - first);
      }
    }
    return scores;
  }

  async close(): Promise<void> {
    await this.model.dispose();
  }
}
