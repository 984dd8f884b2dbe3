/**
 * Test-worker setup: every MilvusClient in a worker shares one parse of the SDK's protobuf
 * descriptors.
 *
 * The SDK parses the same bundled JSON descriptors in every client it constructs (protobufjs's
 * `Root.fromJSON` twice, proto-loader's `fromJSON` twice): about 0.3 s of CPU a client. A user's
 * command builds one client per process, so ragoss itself gains nothing from sharing them; a test
 * worker builds one per in-process command and per check of the stored rows, hundreds in a run.
 * The parsed descriptors are only read (type lookups, encoding), so sharing them changes no
 * behaviour: the SDK still builds its own client, channel and calls.
 */
import { createRequire } from 'node:module';

interface ProtobufModule {
  Root: { fromJSON: (json: object, root?: unknown) => unknown };
}
interface ProtoLoaderModule {
  fromJSON: (json: object, options?: object) => unknown;
}

// Resolved from the SDK's own location: the very module instances its requires get.
const requireFromSdk = createRequire(createRequire(import.meta.url).resolve('@zilliz/milvus2-sdk-node'));
const protobuf = requireFromSdk('protobufjs') as ProtobufModule;
const protoLoader = requireFromSdk('@grpc/proto-loader') as ProtoLoaderModule;

const roots = new WeakMap<object, unknown>();
const parseRoot = protobuf.Root.fromJSON.bind(protobuf.Root);
protobuf.Root.fromJSON = (json, root) => {
  // Into a given root is a merge, not a parse of its own: leave it alone.
  if (root !== undefined) return parseRoot(json, root);
  if (!roots.has(json)) roots.set(json, parseRoot(json));
  return roots.get(json);
};

const definitions = new WeakMap<object, Map<string, unknown>>();
const parseDefinition = protoLoader.fromJSON.bind(protoLoader);
protoLoader.fromJSON = (json, options) => {
  const byOptions = definitions.get(json) ?? new Map<string, unknown>();
  definitions.set(json, byOptions);
  const key = JSON.stringify(options ?? {});
  if (!byOptions.has(key)) byOptions.set(key, parseDefinition(json, options));
  return byOptions.get(key);
};
