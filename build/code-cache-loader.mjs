// The head of dist/vendor/oclif-core.mjs (build/vendor.mjs writes it): loads a CommonJS bundle as require() would,
// compiled with a V8 code cache that was made after a whole run, not before it.
// Builtins through getBuiltinModule: an ESM import of node:fs builds its namespace, fs.promises included (~20 ms).
const Module = process.getBuiltinModule('node:module')
const {createRequire, getCompileCacheDir} = Module
const {readFileSync, renameSync, writeFileSync} = process.getBuiltinModule('node:fs')
const {dirname, join} = process.getBuiltinModule('node:path')
const {fileURLToPath} = process.getBuiltinModule('node:url')
const vm = process.getBuiltinModule('node:vm')

globalThis.__mindbgImport ??= (specifier) => import(specifier)

// `hash` is the file's content hash, written in by the build: V8 checks a cache against its source's length only, and
// runs the cached code of another source of the same length (a rebuild after a one-character edit). `variant` names a
// cache of its own for the same file: what a run compiles depends on the path it takes (a Docker and a Kubernetes
// session of dist/attach.cjs share little beyond the start), and one cache holds only what the run that made it
// compiled.
function loadWithCodeCache(url, hash, variant = '') {
  const file = fileURLToPath(url)
  const source = readFileSync(file, 'utf8')
  // Only where Node caches compiled code (bin/run.js turns it on): its directory, one file per install and content.
  const dir = getCompileCacheDir?.()
  let key = 0x811c9dc5
  for (const c of `${file}\0${source.length}\0${hash}\0${variant}`) key = Math.imul(key ^ c.charCodeAt(0), 0x01000193) >>> 0
  const cacheFile = dir && join(dir, `mindbg-${key.toString(16)}.v8`)
  let cachedData
  try {
    cachedData = cacheFile ? readFileSync(cacheFile) : undefined
  } catch {
    // none yet
  }
  const script = new vm.Script(Module.wrap(source), {filename: file, ...(cachedData ? {cachedData} : {})})
  const module = {exports: {}}
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  // V8 refuses a cache made for other source or flags (cachedDataRejected): made again, at the end of this run, when
  // it holds everything this run compiled. Written whole or not at all (a rename), so a reader never sees half of it.
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', () => {
      try {
        const partial = `${cacheFile}.${process.pid}`
        writeFileSync(partial, script.createCachedData())
        renameSync(partial, cacheFile)
      } catch {
        // a read-only cache directory: compiled again next time, as without it
      }
    })
  }
  return module.exports
}
