#!/usr/bin/env node
// studiobake's npm launcher. npm installs the prebuilt binary for this machine
// from one of the optionalDependencies, @studiobake/<platform>-<arch> (their
// "os" and "cpu" fields make npm skip the others); this script finds it,
// checks that it is whole, and runs it with the same arguments, stdio,
// signals and exit status. Plain Node, no dependencies, nothing downloaded.
//
// Its own failures (no binary for this platform, a missing or damaged
// platform package, a binary without execute permission) print one error
// naming the platform and what to do, and exit 1.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawn } = require('child_process');

const self = require('../package.json');
const platform = `${process.platform}-${process.arch}`;
const pkgName = `@studiobake/${platform}`;
const exe = process.platform === 'win32' ? 'studiobake.exe' : 'studiobake';
const goInstall = `go install github.com/studiobake/studiobake@v${self.version}`;

// The first bytes of an executable for each OS: a truncated or overwritten
// file is caught before exec, where glibc would hand an unknown format to
// /bin/sh and print nonsense.
const magic = { linux: '7f454c46', darwin: 'cffaedfe', win32: '4d5a' };

function fail(...lines) {
  process.stderr.write(`studiobake: ${lines.join('\n  ')}\n`);
  process.exit(1);
}

// findPackage returns the directory of this platform's package.
function findPackage() {
  const known = Object.keys(self.optionalDependencies || {});
  if (!known.includes(pkgName)) {
    fail(`no prebuilt binary for this platform (${platform}): studiobake ${self.version} ships ` +
      known.map((n) => n.replace('@studiobake/', '')).join(', ') + '.',
    `Build it from source with Go 1.26+ instead: ${goInstall}`);
  }
  const dir = installed(pkgName);
  if (!dir) {
    const other = known.find((n) => n !== pkgName && installed(n));
    if (other) {
      fail(`the binary for this platform (${platform}) is not installed, but ${other} is:`,
        'node_modules was installed on another machine. Run npm install (or npm ci) on this one',
        'instead of copying node_modules.');
    }
    fail(`the package ${pkgName}, which holds the binary for this platform (${platform}), is not installed.`,
      "npm installs it from studiobake's optionalDependencies: install again without --omit=optional",
      `or --no-optional (npm install -D studiobake@${self.version}), or use Go: ${goInstall}`);
  }
  return dir;
}

// installed finds a package where require would, first without reading its
// package.json, so that a damaged one is found and reported as damaged; then
// through require itself, for installs without node_modules (Yarn PnP, where
// the platform package's preferUnplugged puts the binary on disk).
function installed(name) {
  for (const dir of require.resolve.paths(name) || []) {
    const pkg = path.join(dir, name);
    if (fs.existsSync(pkg)) return pkg;
  }
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths: [__dirname] }));
  } catch {
    return '';
  }
}

// findBinary checks the platform package against what this launcher was
// packed with: same version, the binary present, of the recorded size, with
// the right header and (outside Windows) execute permission. A SHA-256 of
// 40 MB on every run would cost more than the run: the hash is checked only
// when the binary fails to start.
function findBinary() {
  const dir = findPackage();
  const damaged = (why) => fail(`the package ${pkgName} (the binary for this platform, ${platform}) is damaged: ${why}.`,
    `Remove ${dir} and run npm install again.`);
  let meta;
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch (err) {
    damaged(`its package.json cannot be read (${err.message})`);
  }
  if (meta.version !== self.version) {
    fail(`${pkgName} is version ${meta.version} but studiobake is ${self.version} (platform ${platform}):`,
      `install matching versions: npm install -D studiobake@${self.version}`);
  }
  const want = (self.studiobakeBinaries || {})[platform];
  if (!want) {
    fail(`this studiobake package (${self.version}) was packed without the binary for ${platform}:`,
      `install another release, or use Go: ${goInstall}`);
  }
  const bin = path.join(dir, 'bin', exe);
  let st;
  try {
    st = fs.statSync(bin);
  } catch (err) {
    damaged(`${bin} is missing (${err.code})`);
  }
  if (st.size !== want.size) {
    damaged(`${bin} has ${st.size} bytes, the release has ${want.size}`);
  }
  if (header(bin) !== magic[process.platform]) {
    damaged(`${bin} is not a ${process.platform} executable`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o111) === 0) {
    fail(`the binary for this platform (${platform}) has no execute permission: ${bin} (mode ${(st.mode & 0o777).toString(8)}).`,
      `Run chmod +x "${bin}", or remove ${dir} and run npm install again.`);
  }
  return { bin, want };
}

function header(file) {
  const want = magic[process.platform];
  const buf = Buffer.alloc(want ? want.length / 2 : 0);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('hex');
}

// The terminal sends Ctrl-C to the whole foreground process group, the
// binary included, and npm run/npx pass it on once more: studiobake treats
// copies arriving within a second as one. On Windows the console delivers
// Ctrl-C to every attached process and child.kill would terminate the binary
// outright, so there the launcher only stays alive until the binary exits.
const forwarded = process.platform === 'win32' ? [] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
const kept = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK'] : forwarded;

function run({ bin, want }) {
  const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit' });
  const handlers = kept.map((sig) => {
    const h = () => {
      if (forwarded.includes(sig) && child.exitCode === null && child.signalCode === null) {
        child.kill(sig);
      }
    };
    process.on(sig, h);
    return [sig, h];
  });
  child.on('error', (err) => {
    const whole = sha256(bin) === want.sha256;
    fail(`cannot run the binary for this platform (${platform}): ${bin}: ${err.message}.`,
      whole ? 'The file matches the release; is node_modules on a filesystem mounted noexec?'
        : `The file does not match the release's SHA-256: remove ${path.dirname(path.dirname(bin))} and run npm install again.`);
  });
  child.on('exit', (code, signal) => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    if (signal) {
      // End the way the binary ended, so that a shell or CI sees the same
      // signal; should the signal not end this process, exit as a shell reports it.
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 200);
      return;
    }
    process.exit(code);
  });
}

function sha256(file) {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

run(findBinary());
