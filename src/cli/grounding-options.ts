import type { Command } from 'commander';

export interface GroundingFlags {
  minScore?: string;
  linkTemplate?: string;
}

/** Options search and ask share: where the grounding line is, and how hits link to the docs. */
export function addGroundingOptions(command: Command): Command {
  return command
    .option('--min-score <similarity>', "the best passage's dense similarity a question must reach to count as covered by the docs (env RAGOSS_MIN_SCORE; default: calibrated per model and chunker)")
    .option('--link-template <url>', 'link hits with this URL, filling {path} {name} {anchor} {line}, or none (env RAGOSS_LINK_TEMPLATE; default: milvus.io for the milvus-docs release, the file for a local folder)');
}
