// KeyValueStore access; the build prepends the cloudfront import when used.
// kvs() names no store: a function has at most one associated store, and
// CloudFront reads that one, so the code does not depend on which store
// the stack or publish --kvs-arn associates.

async function kv(key) {
  try {
    return await cf.kvs().get(key);
  } catch (e) {
    return null;
  }
}
