import type { Command } from 'commander';
import { resolveLinkTemplate, resolveMinScore, resolveMode, resolveTopK, validateQuestion, type CommonConfig, type Env } from '../config.js';
import type { SearchRequest } from '../engine/engine.js';

export interface QueryFlags {
  topK?: string;
  mode?: string;
  minScore?: string;
  linkTemplate?: string;
}

/** Options search and ask share: where the grounding line is, and how hits link to the docs. */
export function addGroundingOptions(command: Command): Command {
  return command
    .option('--min-score <similarity>', "the best passage's dense similarity a question must reach to count as covered by the docs (env RAGOSS_MIN_SCORE; default: calibrated per model and chunker)")
    .option('--link-template <url>', 'link hits with this URL, filling {path} {name} {anchor} {line}, or none (env RAGOSS_LINK_TEMPLATE; default: milvus.io for the milvus-docs release, the file for a local folder)');
}

/** What search and ask send the engine for a question: flags over env over defaults, resolved once. */
export function queryRequest(question: string, flags: QueryFlags, config: CommonConfig, env: Env): SearchRequest {
  return {
    question: validateQuestion(question),
    topK: resolveTopK(flags.topK, env),
    mode: resolveMode(flags.mode, env),
    collection: config.collection,
    embeddingModel: config.embedding.explicitModel,
    minScore: resolveMinScore(flags.minScore, env),
    linkTemplate: resolveLinkTemplate(flags.linkTemplate, env),
  };
}
