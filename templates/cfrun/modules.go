package cfrun

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"

	"github.com/dop251/goja"
)

// prelude defines Buffer and querystring in JavaScript; byte conversions
// and hashing are Go functions (__enc, __dec).
const prelude = `(function (g) {
  var enc = g.__enc, dec = g.__dec;
  class Buffer extends Uint8Array {
    static from(v, e) {
      var src = typeof v === 'string' ? new Uint8Array(dec(v, e || 'utf8')) : v;
      if (src instanceof ArrayBuffer) src = new Uint8Array(src);
      var b = new Buffer(src.length);
      for (var i = 0; i < src.length; i++) b[i] = src[i];
      return b;
    }
    static alloc(n, fill) { var b = new Buffer(n); if (fill !== undefined) b.fill(typeof fill === 'number' ? fill : Buffer.from(String(fill))[0]); return b; }
    static isBuffer(x) { return x instanceof Buffer; }
    static byteLength(s, e) { return typeof s === 'string' ? Buffer.from(s, e).length : s.length; }
    static concat(list) {
      var n = 0, i, j, k = 0;
      for (i = 0; i < list.length; i++) n += list[i].length;
      var b = new Buffer(n);
      for (i = 0; i < list.length; i++) for (j = 0; j < list[i].length; j++) b[k++] = list[i][j];
      return b;
    }
    toString(e) { return enc(this.buffer.slice(this.byteOffset, this.byteOffset + this.length), e || 'utf8'); }
    equals(o) { if (o.length !== this.length) return false; for (var i = 0; i < o.length; i++) if (o[i] !== this[i]) return false; return true; }
    toJSON() { return { type: 'Buffer', data: Array.prototype.slice.call(this) }; }
  }
  g.Buffer = Buffer;
  var qs = {
    escape: function (s) { return encodeURIComponent(s); },
    unescape: function (s) { try { return decodeURIComponent(s); } catch (e) { return s; } },
    parse: function (str, sep, eq) {
      sep = sep || '&'; eq = eq || '=';
      var o = {};
      if (typeof str !== 'string' || str === '') return o;
      str.split(sep).forEach(function (p) {
        if (!p) return;
        var i = p.indexOf(eq);
        var k = qs.unescape((i < 0 ? p : p.slice(0, i)).replace(/\+/g, ' '));
        var v = i < 0 ? '' : qs.unescape(p.slice(i + eq.length).replace(/\+/g, ' '));
        if (!Object.prototype.hasOwnProperty.call(o, k)) o[k] = v;
        else if (Array.isArray(o[k])) o[k].push(v);
        else o[k] = [o[k], v];
      });
      return o;
    },
    stringify: function (obj, sep, eq) {
      sep = sep || '&'; eq = eq || '=';
      var out = [];
      Object.keys(obj || {}).forEach(function (k) {
        var vs = Array.isArray(obj[k]) ? obj[k] : [obj[k]];
        vs.forEach(function (v) { out.push(qs.escape(k) + eq + qs.escape(v === undefined || v === null ? '' : String(v))); });
      });
      return out.join(sep);
    }
  };
  qs.decode = qs.parse; qs.encode = qs.stringify;
  g.__modules.querystring = qs;
  g.__modules.buffer = { Buffer: Buffer };
  delete g.__enc; delete g.__dec;
})(this);`

// installGlobals gives a runtime what cloudfront-js-2.0 offers: require of
// crypto, querystring, buffer and cloudfront, and Buffer. eval is removed,
// as the runtime has none.
func installGlobals(rt *goja.Runtime, kvs map[string]string) error {
	modules := rt.NewObject()
	if err := rt.Set("__modules", modules); err != nil {
		return err
	}
	_ = rt.Set("__enc", func(b goja.ArrayBuffer, enc string) (string, error) { return encodeBytes(b.Bytes(), enc) })
	_ = rt.Set("__dec", func(s, enc string) (goja.ArrayBuffer, error) {
		b, err := decodeString(s, enc)
		return rt.NewArrayBuffer(b), err
	})
	if _, err := rt.RunString(prelude); err != nil {
		return fmt.Errorf("cfrun prelude: %w", err)
	}
	_ = modules.Set("crypto", cryptoModule(rt))
	_ = modules.Set("cloudfront", cloudfrontModule(rt, kvs))
	_ = rt.Set("require", func(name string) (goja.Value, error) {
		m := modules.Get(name)
		if m == nil || goja.IsUndefined(m) {
			return nil, fmt.Errorf("cloudfront-js-2.0 has no module %q", name)
		}
		return m, nil
	})
	rt.GlobalObject().Delete("eval")
	return nil
}

func cryptoModule(rt *goja.Runtime) *goja.Object {
	m := rt.NewObject()
	_ = m.Set("createHash", func(alg string) (*goja.Object, error) {
		h, err := newHash(alg, nil)
		if err != nil {
			return nil, err
		}
		return hashObject(rt, h), nil
	})
	_ = m.Set("createHmac", func(alg string, key goja.Value) (*goja.Object, error) {
		k, err := bytesOf(key, "utf8")
		if err != nil {
			return nil, err
		}
		h, err := newHash(alg, k)
		if err != nil {
			return nil, err
		}
		return hashObject(rt, h), nil
	})
	return m
}

func newHash(alg string, key []byte) (hash.Hash, error) {
	var f func() hash.Hash
	switch strings.ToLower(alg) {
	case "md5":
		f = md5.New
	case "sha1":
		f = sha1.New
	case "sha256":
		f = sha256.New
	default:
		return nil, fmt.Errorf("crypto: unsupported algorithm %q (md5, sha1, sha256)", alg)
	}
	if key != nil {
		return hmac.New(f, key), nil
	}
	return f(), nil
}

// hashObject is a Hash or Hmac: update(data[, encoding]) chains, digest
// returns a string for an encoding and a Buffer without one (2.0).
func hashObject(rt *goja.Runtime, h hash.Hash) *goja.Object {
	o := rt.NewObject()
	_ = o.Set("update", func(data goja.Value, enc string) (*goja.Object, error) {
		if enc == "" {
			enc = "utf8"
		}
		b, err := bytesOf(data, enc)
		if err != nil {
			return nil, err
		}
		h.Write(b)
		return o, nil
	})
	_ = o.Set("digest", func(enc string) (goja.Value, error) {
		sum := h.Sum(nil)
		if enc == "" {
			from, _ := goja.AssertFunction(rt.Get("Buffer").ToObject(rt).Get("from"))
			return from(rt.Get("Buffer"), rt.ToValue(rt.NewArrayBuffer(sum)))
		}
		s, err := encodeBytes(sum, enc)
		return rt.ToValue(s), err
	})
	return o
}

// bytesOf reads a string (in enc) or a Buffer/typed array.
func bytesOf(v goja.Value, enc string) ([]byte, error) {
	switch x := v.Export().(type) {
	case string:
		return decodeString(x, enc)
	case []byte:
		return append([]byte(nil), x...), nil
	case goja.ArrayBuffer:
		return append([]byte(nil), x.Bytes()...), nil
	}
	return decodeString(v.String(), enc)
}

func encodeBytes(b []byte, enc string) (string, error) {
	switch enc {
	case "utf8", "utf-8":
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	case "hex":
		return hex.EncodeToString(b), nil
	case "base64":
		return base64.StdEncoding.EncodeToString(b), nil
	case "base64url":
		return base64.RawURLEncoding.EncodeToString(b), nil
	case "latin1", "binary":
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), nil
	}
	return "", fmt.Errorf("unknown encoding %q", enc)
}

func decodeString(s, enc string) ([]byte, error) {
	switch enc {
	case "utf8", "utf-8":
		return []byte(s), nil
	case "hex":
		return hex.DecodeString(s)
	case "base64", "base64url":
		s = strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(s), "=")
		return base64.RawStdEncoding.DecodeString(s)
	case "latin1", "binary":
		b := make([]byte, 0, len(s))
		for _, r := range s {
			b = append(b, byte(r))
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

// cloudfrontModule offers kvs([id]) with get(key[, {format}]), exists(key)
// and meta(), each returning a promise like the real helper. A missing key
// rejects get, as CloudFront does.
func cloudfrontModule(rt *goja.Runtime, kvs map[string]string) *goja.Object {
	m := rt.NewObject()
	_ = m.Set("kvs", func(goja.FunctionCall) goja.Value {
		h := rt.NewObject()
		_ = h.Set("get", func(key string, opts map[string]any) *goja.Promise {
			p, resolve, reject := rt.NewPromise()
			v, ok := kvs[key]
			switch format, _ := opts["format"].(string); {
			case !ok:
				_ = reject(rt.NewGoError(fmt.Errorf("KeyValueStore: key %q not found", key)))
			case format == "json":
				var x any
				if err := json.Unmarshal([]byte(v), &x); err != nil {
					_ = reject(rt.NewGoError(err))
				} else {
					_ = resolve(x)
				}
			default:
				_ = resolve(v)
			}
			return p
		})
		_ = h.Set("exists", func(key string) *goja.Promise {
			p, resolve, _ := rt.NewPromise()
			_, ok := kvs[key]
			_ = resolve(ok)
			return p
		})
		_ = h.Set("meta", func() *goja.Promise {
			p, resolve, _ := rt.NewPromise()
			_ = resolve(map[string]any{"keyCount": len(kvs)})
			return p
		})
		return h
	})
	return m
}
