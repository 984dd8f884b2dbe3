// Loaded with `node --import`: records the URL of every module the process resolves into the file
// named by RAGOSS_RECORD_IMPORTS, so a test can tell which libraries a command really loaded.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url);
