import type { ChatDelta } from '../answerer/chat.js';
import type { ChatConfig, EmbeddingSettings } from './settings.js';
import type { EvalQuestion, EvalReport } from '../pipeline/evaluate.js';
import type { Grounding, ThresholdSource } from '../pipeline/grounding.js';
import type { RankedHit } from '../pipeline/retrieve.js';
import type { ContextPassage } from '../pipeline/context.js';
import type { Progress } from '../progress.js';
import type { ChunkerName } from '../corpus/chunk.js';
import type { RerankSettings } from '../rerank/reranker.js';

export type { RerankSettings };
import type { CollectionInfo, RetrievalMode, ServerFeatures } from '../store/store.js';
import type { CorpusRecord, GroundingCalibration } from '../types.js';

/**
 * What every entry point calls: the in-process CLI (`LocalEngine`), the service (which wraps a
 * long-lived `LocalEngine`) and its clients (`RemoteEngine`), and the MCP server. Where Milvus
 * lives belongs to the engine (one per process); everything else travels with each request, so a
 * shared service honours every caller's own settings.
 */
export interface Engine {
  search(request: SearchRequest, context: OperationContext): Promise<SearchResult>;
  ask(request: AskRequest, context: AskContext): Promise<AskResult>;
  ingest(request: IngestRequest, context: OperationContext): Promise<IngestResult>;
  exportSnapshot(request: ExportRequest, context: OperationContext): Promise<ExportResult>;
  /** Hands the ingest to the service and returns at once; only the service's engine can (undefined in-process). */
  startIngest?(request: IngestRequest, context: OperationContext): Promise<JobInfo>;
  evaluate(request: EvalRequest, context: OperationContext): Promise<EvalResult>;
  /** Draws the collection's "not in the docs" line again from its stored vectors (nothing re-embedded). */
  calibrate(request: CalibrateRequest, context: OperationContext): Promise<CalibrateResult>;
  doctor(request: DoctorRequest, context: OperationContext): Promise<DoctorReport>;
  /** A page, a section or a chunk exactly as the docs have it, put back together from the stored chunks. */
  get(request: GetRequest, context: OperationContext): Promise<GetResult>;
  collections(context: OperationContext): Promise<CollectionInfo[]>;
  close(): Promise<void>;
}

export interface OperationContext {
  progress: Progress;
  /** Aborting it cancels the work without damage (an ingest leaves the previous data serving). */
  signal: AbortSignal;
}

export interface AskContext extends OperationContext {
  /** Reasoning and answer text as it streams in. */
  onDelta?: (delta: ChatDelta) => void;
}

/** How a request's texts are embedded: the caller's settings; unset, the engine's own. */
export interface EmbeddingChoice {
  embedding?: EmbeddingSettings;
}

export interface QueryTarget extends EmbeddingChoice {
  collection: string;
  /** Set when the user named a model: it must match the one the collection was built with. */
  embeddingModel?: string;
}

export interface SearchRequest extends QueryTarget {
  question: string;
  topK: number;
  /** Unset: the collection's default (`defaultMode`); bm25/hybrid on a collection without full text run dense, with a warning. */
  mode?: RetrievalMode;
  /** The grounding threshold; unset: the collection's calibrated line (else its model's default). */
  minScore?: number;
  /** How hits link to the docs (see corpus/links.ts); unset: from the collection's recorded source. */
  linkTemplate?: string;
  /** A second stage that reorders the retrieved candidates; unset: none. */
  rerank?: RerankSettings;
}

/** What the rerank stage did to a result. */
export interface RerankOutcome {
  /** The endpoint's URL or the model's name. */
  by: string;
  candidates: number;
  /** Why the retrieval order was kept; absent when the reranker ordered the hits. */
  fallback?: string;
}

export interface SearchResult extends Grounding {
  question: string;
  embeddingModel: string;
  /** The mode actually used (dense when the collection has no full-text index). */
  mode: RetrievalMode;
  hits: RankedHit[];
  /** Present when a rerank stage was asked for. */
  rerank?: RerankOutcome;
}

/** Chat settings travel with each request: the key is the caller's, never the service's log's. */
export type ChatSettings = ChatConfig;

/**
 * How `ask` fills the model's context (pipeline/context.ts). Markdown collections always use the
 * builder, with these or the defaults; a seed collection only when `tokens` is set.
 */
export interface ContextRequest {
  /** The budget of passage tokens; unset: DEFAULT_CONTEXT_TOKENS. */
  tokens?: number;
  /** Hits that may bring passages (an explicit --top-k); unset: DEFAULT_CONTEXT_HITS. */
  maxHits?: number;
}

export interface AskRequest extends SearchRequest {
  chat: ChatSettings;
  context?: ContextRequest;
  /** Ask the model even when the docs do not seem to cover the question. */
  force: boolean;
  /** Number the passages and have the model cite them as [n] (the seed prompt otherwise). */
  cite: boolean;
}

export interface AskResult extends Grounding {
  question: string;
  /** Empty when the model was not asked (not grounded, no --force). */
  answer: string;
  reasoning: string;
  model: string;
  /** Whether the model was asked. */
  answered: boolean;
  hits: RankedHit[];
  /** With `cite`: the passage numbers the answer cites, in order of first citation. */
  cited?: number[];
  rerank?: RerankOutcome;
  /** What the model was sent, when the context builder made it (markdown collections): the passages, in prompt order. */
  context?: SentContext;
}

export interface SentContext {
  passages: ContextPassage[];
  /** The passages' tokens, and the whole prompt's (system and user messages), as gpt-oss counts them. */
  tokens: number;
  promptTokens: number;
  budget: number;
}

export interface GetRequest {
  collection: string;
  /** A source path (en/faq/product_faq.md), a file name (product_faq.md) or a link ragoss printed. */
  source: string;
  /** A heading's text or anchor: that section (subsections included) instead of the page. */
  heading?: string;
  /** That chunk's bytes instead of the page. */
  chunk?: number;
  linkTemplate?: string;
}

export interface GetResult {
  collection: string;
  source: string;
  /** What was asked for: the whole page, a section, or one chunk. */
  scope: 'page' | 'section' | 'chunk';
  /** The section's heading (scope section) or the chunk's (scope chunk). */
  heading?: string;
  chunk?: number;
  /** 1-based line of the file where the text starts. */
  line: number;
  url?: string;
  /** Exactly the file's bytes for what was asked. */
  text: string;
}

export interface IngestRequest extends EmbeddingChoice {
  /** A URL, or an absolute path to a zip, a directory or a snapshot (.parquet); callers resolve relative paths. */
  source: string;
  glob: string;
  collection: string;
  embeddingModel?: string;
  chunker: ChunkerName;
  refresh: boolean;
  replace: boolean;
  /** Embed every chunk instead of reusing the vectors of unchanged ones. */
  full: boolean;
  dryRun: boolean;
}

export interface IngestFileCount {
  path: string;
  chunks: number;
}

export type IngestResult =
  | { dryRun: true; source: string; glob: string; files: IngestFileCount[]; totalFiles: number; totalChunks: number }
  | {
      dryRun: false;
      source: string;
      files: number;
      chunks: number;
      collection: string;
      milvus: string;
      embeddingModel: string;
      /** The server that embedded the chunks; absent: the local model. */
      embeddingEndpoint?: string;
      dimension: number;
      chunker: ChunkerName;
      /** Whether bm25 and hybrid search are available on it (Milvus 2.5+, Milvus Lite 3.2+). */
      fullText: boolean;
      /** Its "not in the docs" line, calibrated at ingest (or carried by the snapshot); absent: the model's default applies. */
      grounding?: GroundingCalibration;
      /** Chunks that went through the model; the rest were unchanged and kept their vectors. */
      embeddedChunks: number;
      reusedChunks: number;
      seconds: number;
      /** Getting the vectors: embedding new chunks and reading unchanged ones from Milvus. */
      embedSeconds: number;
      insertSeconds: number;
      /** Set when the source was a snapshot: its chunks came with their vectors, no model ran. */
      snapshot?: SnapshotOrigin;
    };

/** Where an imported snapshot came from, from its manifest. */
export interface SnapshotOrigin {
  collection: string;
  ragossVersion: string;
  createdAt: string;
  corpus?: CorpusRecord;
}

export interface ExportRequest {
  collection: string;
  /** Absolute path of the .parquet file to write (replaced if it exists). */
  out: string;
}

export interface ExportResult {
  collection: string;
  path: string;
  chunks: number;
  bytes: number;
  embeddingModel: string;
  embeddingDtype?: string;
  dimension: number;
  chunker: string;
  corpus?: CorpusRecord;
  ragossVersion: string;
  /** sha256 over the rows, as the file's manifest records it. */
  rowsDigest: string;
  seconds: number;
}

export interface EvalRequest extends QueryTarget {
  questions: EvalQuestion[];
  topK: number;
  mode?: RetrievalMode;
  minScore?: number;
  rerank?: RerankSettings;
  /** Also report how refused real questions and caught off-topic ones move with the line. */
  curve?: boolean;
  /** The context builder's budget for the context recall (as `ask --context-tokens`). */
  context?: ContextRequest;
}

export interface EvalResult extends EvalReport {
  embeddingModel: string;
  chunker: string;
  mode: RetrievalMode;
  /** With a rerank stage: who reranked, over how many candidates, and how often the retrieval order had to stand. */
  rerank?: { by: string; candidates: number; fallbacks: number };
  /** The grounding threshold used; null when there was none (nothing flagged). */
  threshold: number | null;
  thresholdSource: ThresholdSource;
  /** The collection's recorded calibration, when it has one. */
  calibration?: GroundingCalibration;
  /** The context builder's budget the context recall was measured at (absent: ask sends the top k). */
  contextBudget?: { tokens: number; maxHits: number };
}

export type CalibrateRequest = QueryTarget;

export interface CalibrateResult {
  collection: string;
  embeddingModel: string;
  chunker: string;
  /** Chunks whose stored vectors the probes were held against. */
  chunks: number;
  grounding: GroundingCalibration;
  /** The calibration it replaced, if any. */
  previous?: GroundingCalibration;
  seconds: number;
}

export interface DoctorRequest extends QueryTarget {
  chat: ChatSettings;
}

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  milvus: { mode: 'embedded' | 'server'; address: string; reachable: boolean; serverVersion?: string; features?: ServerFeatures; collections: CollectionInfo[] };
  embedding: { model: string; dimension: number | null; local: boolean; location: string };
  chat: { baseUrl: string; model: string; keySet: boolean; answers: boolean };
  checks: Check[];
}

/** A detached ingest as the service reports it (GET /v1/jobs, /v1/health, `ragoss doctor`). */
export interface JobInfo {
  id: number;
  kind: 'ingest';
  collection: string;
  source: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  startedAt: string;
  finishedAt?: string;
  /** Where it stands: the running task's done/total, rate and ETA, or the step it is on. */
  progress: string;
  result?: IngestResult;
  error?: { message: string; hint?: string };
}
