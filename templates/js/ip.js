// IP allow-list for the gate (--auth ip).

// ip parses an IPv4 or IPv6 address into 16-bit groups: 2 for IPv4 (and
// IPv4-mapped IPv6), 8 for IPv6; null when it does not parse.
function ip(s) {
  var m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(s);
  if (m) {
    var b = [+m[1], +m[2], +m[3], +m[4]];
    return b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255 ? null : [b[0] * 256 + b[1], b[2] * 256 + b[3]];
  }
  var halves = s.split('::');
  var head = halves[0] ? halves[0].split(':') : [];
  var tail = halves[1] ? halves[1].split(':') : [];
  var gap = 8 - head.length - tail.length;
  if (halves.length > 2 || (halves.length === 2 ? gap < 1 : gap !== 0)) {
    return null;
  }
  var g = head;
  while (gap-- > 0) {
    g.push('0');
  }
  g = g.concat(tail);
  for (var i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/i.test(g[i])) {
      return null;
    }
    g[i] = parseInt(g[i], 16);
  }
  return g;
}

// ipAllowed checks the viewer against CIDRS, each [groups, prefix bits]
// with the groups already masked at build time.
function ipAllowed(s) {
  var a = ip(s || '');
  for (var c = 0; a && c < CIDRS.length; c++) {
    var net = CIDRS[c][0];
    var bits = CIDRS[c][1];
    var ok = net.length === a.length;
    for (var i = 0; ok && i < net.length && bits > i * 16; i++) {
      var n = Math.min(16, bits - i * 16);
      ok = (a[i] & ((0xffff << (16 - n)) & 0xffff)) === net[i];
    }
    if (ok) {
      return true;
    }
  }
  return false;
}

