// Basic auth for the gate (--auth basic).

async function basicOK(h) {
  // Padding only at the end: b64 throws on a stray '=', and a function
  // that throws answers 503 instead of 401. Real credentials are under 200
  // characters; a longer header is refused before any work per character,
  // which even in linear time costs serve's goja a second per megabyte.
  var m = h && h.value.length <= 4096 && /^basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(h.value);
  var cred = m ? b64(m[1]) : '';
  var i = cred.indexOf(':');
  if (i < 1) {
    return false;
  }
  var rec = await user(cred.slice(0, i));
  var parts = (rec || DUMMY).split(':');
  // Hash and compare even for unknown users, so timing does not tell
  // which names exist.
  var got = crypto.createHash('sha256').update(parts[0] + cred.slice(i + 1)).digest('hex');
  return same(got, parts[1]) && !!rec;
}

// user returns "salt:hash" for a name, from the code or the KeyValueStore.
async function user(name) {
  if (!USERS_IN_KVS) {
    return Object.prototype.hasOwnProperty.call(BASIC.users, name) ? BASIC.users[name] : null;
  }
  return await kv('user:' + name);
}

