import { engineSettings, type CommonConfig } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Progress } from '../progress.js';
import { connectService } from '../service/discover.js';
import type { Runtime } from './runtime.js';

/**
 * Runs a command's work on the ragoss service when one is (or can be) up for these settings, else
 * in this process. The in-process engine is imported only when needed: a command served by the
 * service never loads the Milvus SDK, transformers.js or openai.
 */
export async function withEngine<T>(config: CommonConfig, runtime: Runtime, progress: Progress, work: (engine: Engine) => Promise<T>): Promise<T> {
  const settings = engineSettings(config);
  let engine: Engine | undefined = runtime.engine ?? (await connectService(settings, runtime.env, config.daemon, progress));
  if (engine === undefined) {
    const { LocalEngine } = await import('../engine/local.js');
    engine = new LocalEngine(settings);
  }
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}
