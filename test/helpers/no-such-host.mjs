// Preloaded with `node --import` into a CLI under test: every host name ending in `.invalid` fails
// to resolve exactly as getaddrinfo reports a name that does not exist (ENOTFOUND), without a DNS
// query leaving the machine. Other names resolve as usual. Covers node:dns's callback and promise
// lookups: fetch and http use the first, gRPC's resolver the second (and TXT records).
import dns from 'node:dns';

const unknown = (hostname) => typeof hostname === 'string' && hostname.endsWith('.invalid');
const notFound = (hostname, syscall) =>
  Object.assign(new Error(`${syscall} ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall, hostname });

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (!unknown(hostname)) return lookup.call(this, hostname, options, callback);
  const done = typeof options === 'function' ? options : callback;
  process.nextTick(done, notFound(hostname, 'getaddrinfo'));
  return {};
};

const promises = dns.promises;
const promiseLookup = promises.lookup;
promises.lookup = (hostname, options) => (unknown(hostname) ? Promise.reject(notFound(hostname, 'getaddrinfo')) : promiseLookup(hostname, options));
const resolveTxt = promises.resolveTxt;
promises.resolveTxt = (hostname) => (unknown(hostname) ? Promise.reject(notFound(hostname, 'queryTxt')) : resolveTxt(hostname));
