// Lays out the npm packages for npm/pack.sh, ready for npm pack:
//
//   node npm/stage.js BUILDDIR STAGEDIR VERSION PLATFORM...
//
// BUILDDIR is release/build.sh's output (PLATFORM/studiobake[.exe] and
// SHA256SUMS). STAGEDIR/studiobake is the launcher package with VERSION
// stamped into it and its optionalDependencies, plus the size and SHA-256 of
// each binary it was packed with; STAGEDIR/PLATFORM is the package holding
// that platform's binary. npm/studiobake/package.json is the one list of
// platforms: their packages are generated here, all alike.
'use strict';

const fs = require('fs');
const path = require('path');

const [buildDir, stageDir, version, ...platforms] = process.argv.slice(2);
const src = path.join(__dirname, 'studiobake');
const launcher = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8'));
const scope = '@studiobake/';

const known = Object.keys(launcher.optionalDependencies).map((n) => n.slice(scope.length));
for (const p of platforms) {
  if (!known.includes(p)) {
    throw new Error(`platform ${p} is not in npm/studiobake/package.json's optionalDependencies (${known.join(', ')})`);
  }
}

const sums = {};
for (const line of fs.readFileSync(path.join(buildDir, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
  const [sum, file] = line.split(/\s+\*?/);
  sums[file] = sum;
}

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
const json = (v) => JSON.stringify(v, null, 2) + '\n';

launcher.version = version;
for (const name of Object.keys(launcher.optionalDependencies)) launcher.optionalDependencies[name] = version;
launcher.studiobakeBinaries = {};
for (const p of platforms) {
  const exe = p.startsWith('win32-') ? 'studiobake.exe' : 'studiobake';
  const bin = path.join(buildDir, p, exe);
  const sha256 = sums[`${p}/${exe}`];
  if (!sha256) throw new Error(`${buildDir}/SHA256SUMS has no line for ${p}/${exe}`);
  launcher.studiobakeBinaries[p] = { size: fs.statSync(bin).size, sha256 };

  const [os, cpu] = p.split('-');
  const dir = path.join(stageDir, p);
  write(path.join(dir, 'package.json'), json({
    name: scope + p,
    version,
    description: `The ${p} binary of studiobake, installed by the studiobake package.`,
    repository: launcher.repository,
    os: [os],
    cpu: [cpu],
    preferUnplugged: true,
    files: ['bin/'],
  }));
  write(path.join(dir, 'README.md'), `# ${scope}${p}\n\nThe ${p} binary of studiobake ${version}. ` +
    'Install `studiobake`, not this package: its launcher picks the binary for your platform.\n');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(bin, path.join(dir, 'bin', exe));
  fs.chmodSync(path.join(dir, 'bin', exe), 0o755);
}

const out = path.join(stageDir, 'studiobake');
write(path.join(out, 'package.json'), json(launcher));
for (const f of ['bin/studiobake.js', 'README.md']) {
  write(path.join(out, f), fs.readFileSync(path.join(src, f)));
}
// The JSON Schemas of studiobake.toml (for editors: #:schema
// ./node_modules/studiobake/studiobake.schema.json) and of --json output.
for (const f of ['studiobake.schema.json', 'studiobake-output.schema.json']) {
  write(path.join(out, path.basename(f)), fs.readFileSync(path.join(src, '..', '..', f)));
}
fs.chmodSync(path.join(out, 'bin/studiobake.js'), 0o755);
