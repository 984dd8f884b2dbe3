import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import {
  DEFAULT_CHAT_BASE_URL,
  DEFAULT_CHAT_MODEL,
  DEFAULT_COLLECTION,
  DEFAULT_GLOB,
  DEFAULT_MODE_HELP,
  DEFAULT_RERANK_CANDIDATES,
  DEFAULT_RERANK_TIMEOUT_SECONDS,
  DEFAULT_SOURCE_URL,
  DEFAULT_TOP_K,
  resolveChatConfig,
  resolveCommonConfig,
  resolveHome,
  resolveRerank,
} from '../../src/config.js';
import { DEFAULT_CHUNKER } from '../../src/corpus/chunk.js';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/embedder/embedder.js';
import { DEFAULT_CONTEXT_HITS, DEFAULT_CONTEXT_TOKENS } from '../../src/pipeline/context.js';
import { defaultThreshold } from '../../src/pipeline/grounding.js';
import { parseMilvusUri } from '../../src/store/location.js';
import { expandHome } from '../../src/system.js';
import { codeSpans, flagsIn, headings, links, projectRoot, readDoc, readDocs, sections, tables, type Doc, type Table } from './markdown.js';

/**
 * The README and docs/ say what the code does; these checks fail when one moves without the other:
 * the package version the CI recipe installs and caches under, every command's options against its
 * `--help`, the configuration tables' defaults against the code, and every relative link.
 */

const docs = readDocs();
const readme = docs.find((doc) => doc.path === 'README.md') as Doc;
const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

describe('the package version', () => {
  it('is the one every ragoss-X.Y.Z (tarball, cache key) in the README and docs/ names', () => {
    const named = docs.flatMap((doc) => [...doc.text.matchAll(/ragoss-(\d+\.\d+\.\d+)/g)].map((match) => `${doc.path}: ragoss-${match[1]}`));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((entry) => !entry.endsWith(`ragoss-${version}`))).toEqual([]);
  });

  it('is the tarball and the cache key of the In CI recipe', () => {
    const recipe = sections(readme).find((section) => section.heading.anchor === 'in-ci');
    expect(recipe).toBeDefined();
    const start = readme.lines.findIndex((line) => line.number > (recipe?.heading.line ?? 0) && line.text.startsWith('```yaml'));
    const end = readme.lines.findIndex((line, index) => index > start && line.text.startsWith('```') && !line.text.startsWith('```yaml'));
    const yaml = readme.lines.slice(start, end).map((line) => line.text).join('\n');
    expect(yaml).toContain(`npm install -g ./ragoss-${version}.tgz`);
    expect(yaml).toMatch(new RegExp(`key: ragoss-${version.replace(/\./g, '\\.')}-`));
  });
});

// --- options: the tables against what `--help` lists

const program = buildProgram(() => undefined);
const commands = new Map(program.commands.map((command) => [command.name(), command]));

/** The long flags `ragoss COMMAND --help` lists (commander's own help option aside). */
function helpFlags(command: Command): string[] {
  return command
    .createHelp()
    .visibleOptions(command)
    .map((option) => option.long)
    .filter((long): long is string => long !== undefined && long !== '--help');
}


const common = [...commands.values()].map(helpFlags).reduce((shared, flags) => shared.filter((flag) => flags.includes(flag)));

/** The sections of the README and docs/ about one command: headed `` `ragoss NAME ...` ``. */
function commandSections(name: string) {
  return docs.flatMap(sections).filter((section) => new RegExp(`^\`ragoss ${name}(\\s|\`)`).test(section.heading.text));
}

/** The flags an option table lists in its first column. */
function tableFlags(table: Table): string[] {
  return table.rows.flatMap((row) => flagsIn(row[0] ?? ''));
}

describe('the option tables', () => {
  it('cover every command the CLI has', () => {
    expect(commands.size).toBeGreaterThan(5);
    for (const name of commands.keys()) expect(commandSections(name).map((section) => section.heading.text), `a heading \`ragoss ${name}\``).not.toEqual([]);
  });

  it('list the options every command takes in the README, and only those', () => {
    const commandsSection = sections(readme).find((section) => section.heading.anchor === 'commands');
    const table = tables(commandsSection?.lines ?? []).find((candidate) => candidate.header[0] === 'common option');
    expect(table, 'a "common option" table under ## Commands').toBeDefined();
    expect(common.length).toBeGreaterThan(5);
    expect(tableFlags(table as Table).sort()).toEqual([...common].sort());
  });

  for (const [name, command] of commands) {
    it(`list every option of ragoss ${name} --help, and nothing it lacks`, () => {
      const own = helpFlags(command).filter((flag) => !common.includes(flag));
      const documented = commandSections(name).flatMap((section) => tables(section.lines).filter((table) => table.header[0] === 'option').flatMap(tableFlags));
      expect(own.filter((flag) => !documented.includes(flag)), `options of ${name} missing from its option table`).toEqual([]);
      expect(documented.filter((flag) => !helpFlags(command).includes(flag)), `options in ${name}'s table that ${name} --help does not list`).toEqual([]);
    });
  }
});

// --- configuration: every flag | env | default table against the code

interface Setting {
  doc: string;
  commands: string[];
  flags: string[];
  env: string[];
  defaults: string;
}

function settings(doc: Doc): Setting[] {
  return tables(doc.lines.filter((line) => !line.inCode).map((line) => line.text))
    .filter((table) => table.header.join('|') === 'flag|env|default')
    .flatMap((table) =>
      table.rows.map((row) => {
        const [flagCell = '', envCell = '', defaults = ''] = row;
        const words = codeSpans(flagCell).flatMap((span) => span.split(/\s+/));
        return {
          doc: doc.path,
          commands: words.filter((word) => /^[a-z]+$/.test(word)),
          flags: flagsIn(flagCell),
          env: codeSpans(envCell).map((span) => span.replace(/=.*$/, '')).filter((name) => /^[A-Z][A-Z0-9_]+$/.test(name)),
          defaults,
        };
      }),
    );
}

const allSettings = docs.flatMap(settings);
const reference = readDoc('docs/configuration.md');
const referenceSettings = settings(reference);

/** Every environment variable the code reads by name. */
const sourceText = (function read(dir: string): string {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .map((path) => (statSync(path).isDirectory() ? read(path) : path.endsWith('.ts') ? readFileSync(path, 'utf8') : ''))
    .join('\n');
})(join(projectRoot, 'src'));
const variablesInCode = [...new Set([...sourceText.matchAll(/'((?:RAGOSS|MILVUS|HF|OPENAI|OPENROUTER)_[A-Z_]+)'/g)].map((match) => match[1] as string))];

const config = resolveCommonConfig({}, {});
const chat = resolveChatConfig({}, {});
const idleHelp = commands.get('serve')?.options.find((option) => option.long === '--idle-timeout')?.description ?? '';

/** The first code span of a default cell, or its first number. */
function first(cell: string): string {
  return codeSpans(cell)[0] ?? /\d[\d,.]*/.exec(cell)?.[0]?.replace(/,/g, '') ?? '';
}

const none = (cell: string) => /^none\b/.test(cell);

/** Each documented default, checked against the code that applies it. */
const DEFAULTS: Readonly<Record<string, (cell: string) => void>> = {
  MILVUS_URI: (cell) => {
    expect(parseMilvusUri(undefined, resolveHome({}), undefined)).toEqual({ kind: 'embedded', dataDir: expandHome(first(cell)) });
  },
  RAGOSS_HOME: (cell) => expect(expandHome(first(cell))).toBe(resolveHome({})),
  RAGOSS_COLLECTION: (cell) => expect(first(cell)).toBe(DEFAULT_COLLECTION),
  RAGOSS_EMBEDDING_MODEL: (cell) => expect(first(cell)).toBe(DEFAULT_EMBEDDING_MODEL),
  RAGOSS_SOURCE: (cell) => expect(first(cell)).toBe(DEFAULT_SOURCE_URL),
  RAGOSS_GLOB: (cell) => expect(first(cell)).toBe(DEFAULT_GLOB),
  RAGOSS_CHUNKER: (cell) => expect(first(cell)).toBe(DEFAULT_CHUNKER),
  RAGOSS_TOP_K: (cell) => {
    expect(first(cell)).toBe(String(DEFAULT_TOP_K));
    expect(cell).toContain(`\`${DEFAULT_CONTEXT_HITS}\` hits fill the context budget`);
  },
  RAGOSS_MODE: (cell) => expect(cell.replace(/`/g, '')).toBe(DEFAULT_MODE_HELP),
  RAGOSS_MIN_SCORE: (cell) => {
    const line = defaultThreshold(DEFAULT_EMBEDDING_MODEL, 'seed');
    expect(defaultThreshold(DEFAULT_EMBEDDING_MODEL, 'markdown')).toBe(line);
    expect(cell).toContain(`uncalibrated collections: ${line} for all-mpnet-base-v2, none for other models`);
    expect(defaultThreshold('other/model', 'seed')).toBeUndefined();
  },
  RAGOSS_MODEL: (cell) => expect(first(cell)).toBe(DEFAULT_CHAT_MODEL),
  RAGOSS_BASE_URL: (cell) => expect(first(cell)).toBe(DEFAULT_CHAT_BASE_URL),
  RAGOSS_TIMEOUT: (cell) => expect(Number(first(cell)) * 1000).toBe(chat.timeoutMs),
  RAGOSS_MAX_TOKENS: (cell) => expect(none(cell) && chat.maxTokens === undefined).toBe(true),
  RAGOSS_REASONING_EFFORT: (cell) => expect(none(cell) && chat.reasoningEffort === undefined).toBe(true),
  RAGOSS_CONTEXT_TOKENS: (cell) => expect(Number(first(cell))).toBe(DEFAULT_CONTEXT_TOKENS),
  RAGOSS_EMBEDDING_URL: (cell) => expect(none(cell) && config.embedding.url === undefined).toBe(true),
  RAGOSS_RERANK: (cell) => expect(none(cell) && resolveRerank({}, {}) === undefined).toBe(true),
  RAGOSS_RERANK_CANDIDATES: (cell) => expect(Number(first(cell))).toBe(DEFAULT_RERANK_CANDIDATES),
  RAGOSS_RERANK_TIMEOUT: (cell) => expect(Number(first(cell))).toBe(DEFAULT_RERANK_TIMEOUT_SECONDS),
  RAGOSS_RERANK_FORMAT: (cell) => expect(first(cell)).toBe(resolveRerank({ rerank: 'http://localhost:7997/rerank' }, {})?.format),
  RAGOSS_MODEL_DIR: (cell) => expect(none(cell) && config.embedding.modelDir === undefined).toBe(true),
  RAGOSS_OFFLINE: (cell) => expect(cell === 'off' && config.embedding.offline === false).toBe(true),
  RAGOSS_EMBEDDING_DTYPE: (cell) => expect(first(cell)).toBe(config.embedding.dtype),
  RAGOSS_EMBEDDING_BATCH: (cell) => expect(codeSpans(cell).slice(0, 2).map(Number)).toEqual([config.embedding.batchSize, config.embedding.server.batchSize]),
  RAGOSS_EMBEDDING_CONCURRENCY: (cell) => expect(Number(first(cell))).toBe(config.embedding.server.concurrency),
  RAGOSS_EMBEDDING_TIMEOUT: (cell) => expect(Number(first(cell)) * 1000).toBe(config.embedding.server.timeoutMs),
  RAGOSS_EMBEDDING_RETRIES: (cell) => expect(Number(first(cell))).toBe(config.embedding.server.maxRetries),
  RAGOSS_EMBEDDING_DIMENSIONS: (cell) => expect(none(cell) && config.embedding.server.dimensions === undefined).toBe(true),
  RAGOSS_EMBEDDING_MAX_TOKENS: (cell) => expect(Number(first(cell))).toBe(config.embedding.server.maxTokens),
  RAGOSS_MILVUS_TIMEOUT: (cell) => expect(Number(first(cell)) * 1000).toBe(config.milvusTimeoutMs),
  RAGOSS_LOCK_TIMEOUT: (cell) => expect(Number(first(cell)) * 1000).toBe(config.lockTimeoutMs),
  RAGOSS_START_TIMEOUT: (cell) => expect(Number(first(cell)) * 1000).toBe(config.startTimeoutMs),
  RAGOSS_IDLE_TIMEOUT: (cell) => expect(idleHelp).toContain(`default ${first(cell)})`),
};

/**
 * Defaults that are behaviour, said in words (and tested where the behaviour is): which service a
 * command uses, where links point, a random token, a transformers.js setting, keys and the
 * Milvus Lite executable's lookup.
 */
const IN_WORDS = ['MILVUS_TOKEN', 'RAGOSS_DAEMON', 'RAGOSS_LINK_TEMPLATE', 'RAGOSS_SERVE_TOKEN', 'RAGOSS_SERVE_ALLOW_PATHS', 'HF_ENDPOINT', 'RAGOSS_MILVUS_LITE', 'OPENROUTER_API_KEY', 'OPENAI_API_KEY', 'RAGOSS_EMBEDDING_API_KEY', 'RAGOSS_RERANK_API_KEY', 'RAGOSS_RERANK_MODEL'];

describe('the configuration tables', () => {
  it('are found: the README\'s essentials and the full reference', () => {
    expect(allSettings.filter((setting) => setting.doc === 'README.md').length).toBeGreaterThan(5);
    expect(referenceSettings.length).toBeGreaterThan(20);
  });

  it('name flags the commands they name have (or, naming none, every command has)', () => {
    for (const setting of allSettings) {
      for (const flag of setting.flags) {
        const holders = setting.commands.length === 0 ? [...commands.keys()] : setting.commands;
        for (const name of holders) {
          const command = commands.get(name);
          expect(command, `${setting.doc}: no command ${name}`).toBeDefined();
          expect(helpFlags(command as Command), `${setting.doc}: ${name} has no ${flag}`).toContain(flag);
        }
      }
    }
  });

  it('name only environment variables the code reads, and the reference names them all', () => {
    expect(allSettings.flatMap((setting) => setting.env).filter((name) => !variablesInCode.includes(name))).toEqual([]);
    const documented = referenceSettings.flatMap((setting) => setting.env);
    expect(variablesInCode.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it("give the code's defaults", () => {
    const wrong: string[] = [];
    for (const setting of allSettings) {
      const [env] = setting.env;
      if (env === undefined) continue;
      const check = DEFAULTS[env];
      if (check === undefined) {
        if (!IN_WORDS.includes(env)) wrong.push(`${setting.doc}: ${env} is in neither DEFAULTS nor IN_WORDS: say how to check its default`);
        continue;
      }
      try {
        check(setting.defaults);
      } catch (error) {
        wrong.push(`${setting.doc}: ${env} "${setting.defaults}": ${(error as Error).message}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("in the README say what the reference says", () => {
    for (const setting of allSettings.filter((candidate) => candidate.doc === 'README.md')) {
      const same = referenceSettings.find((candidate) => candidate.env.join() === setting.env.join() && candidate.flags.join() === setting.flags.join());
      expect(same, `docs/configuration.md has the README's row for ${setting.env.join(', ')}`).toBeDefined();
      // Links aside: the two files reach the same page by different paths.
      const words = (cell: string | undefined) => cell?.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
      expect(words(setting.defaults)).toBe(words(same?.defaults));
      expect(setting.commands).toEqual(same?.commands);
    }
  });
});

// --- links

describe('links', () => {
  const anchors = new Map(docs.map((doc) => [doc.path, new Set(headings(doc).map((heading) => heading.anchor))]));

  it('that are relative point at a file that exists, and at a heading in it', () => {
    const relativeLinks = docs.flatMap(links).filter((link) => !/^[a-z][a-z0-9+.-]*:/i.test(link.target));
    expect(relativeLinks.length).toBeGreaterThan(30);
    const broken: string[] = [];
    for (const link of relativeLinks) {
      const [path = '', anchor] = link.target.split('#');
      const target = path === '' ? link.doc : normalize(join(dirname(link.doc), path));
      if (target.startsWith('..') || !existsSync(join(projectRoot, target))) {
        broken.push(`${link.doc}:${link.line}: ${link.target}: no such file`);
      } else if (anchor !== undefined && target.endsWith('.md')) {
        const known = anchors.get(target) ?? new Set(headings(readDoc(target)).map((heading) => heading.anchor));
        if (!known.has(anchor)) broken.push(`${link.doc}:${link.line}: ${link.target}: no heading with that anchor in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('reach every page of docs/ from the README', () => {
    const linked = new Set(links(readme).map((link) => normalize(link.target.split('#')[0] ?? '')));
    const pages = docs.filter((doc) => doc.path !== 'README.md').map((doc) => relative(projectRoot, join(projectRoot, doc.path)));
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});

describe('the README', () => {
  it('stays a day-one read (about 500 lines; the rest is in docs/)', () => {
    expect(readme.lines.length).toBeLessThanOrEqual(525);
  });
});
