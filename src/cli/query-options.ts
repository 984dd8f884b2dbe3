import type { Command } from 'commander';
import {
  DEFAULT_RERANK_CANDIDATES,
  DEFAULT_RERANK_TIMEOUT_SECONDS,
  embeddingTarget,
  resolveLinkTemplate,
  resolveMinScore,
  resolveMode,
  resolveRerank,
  resolveTopK,
  validateQuestion,
  type CommonConfig,
  type Env,
  type RerankFlags,
} from '../config.js';
import type { SearchRequest } from '../engine/engine.js';

export interface QueryFlags extends RerankFlags {
  topK?: string;
  mode?: string;
  minScore?: string;
  linkTemplate?: string;
}

/** Options search and ask share: where the grounding line is, and how hits link to the docs. */
export function addGroundingOptions(command: Command): Command {
  return addRerankOptions(command)
    .option('--min-score <similarity>', "the best passage's dense similarity a question must reach to count as covered by the docs (env RAGOSS_MIN_SCORE; default: the line calibrated for the collection)")
    .option('--link-template <url>', 'link hits with this URL, filling {path} {name} {anchor} {line}, or none (env RAGOSS_LINK_TEMPLATE; default: milvus.io for the milvus-docs release, the file for a local folder)');
}

/** The rerank stage's options: search, ask and eval share them. */
export function addRerankOptions(command: Command): Command {
  return command
    .option('--rerank <url|model>', 'reorder the retrieved candidates with a /rerank endpoint (Cohere, Jina, Infinity, vLLM or TEI) or a cross-encoder model run here; none for off (env RAGOSS_RERANK; default off)')
    .option('--rerank-candidates <n>', `how many retrieved chunks the reranker reorders (env RAGOSS_RERANK_CANDIDATES; default ${DEFAULT_RERANK_CANDIDATES})`)
    .option('--rerank-timeout <seconds>', `keep the retrieval order if the reranker takes longer (env RAGOSS_RERANK_TIMEOUT; default ${DEFAULT_RERANK_TIMEOUT_SECONDS})`);
}

/** What search and ask send the engine for a question: flags over env over defaults, resolved once. */
export function queryRequest(question: string, flags: QueryFlags, config: CommonConfig, env: Env): SearchRequest {
  return {
    question: validateQuestion(question),
    topK: resolveTopK(flags.topK, env),
    mode: resolveMode(flags.mode, env),
    collection: config.collection,
    ...embeddingTarget(config),
    minScore: resolveMinScore(flags.minScore, env),
    linkTemplate: resolveLinkTemplate(flags.linkTemplate, env),
    ...optional('rerank', resolveRerank(flags, env)),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
