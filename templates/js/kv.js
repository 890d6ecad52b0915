// KeyValueStore access; the build prepends the cloudfront import when used.

async function kv(key) {
  try {
    return await cf.kvs(KVS).get(key);
  } catch (e) {
    return null;
  }
}

