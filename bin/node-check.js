// mindbg needs Node.js >= 22.19 (package.json "engines"). An older one is told so in a line, rather than failing
// with a SyntaxError while it links the bundle (Node 20 lacks node:module's compile-cache functions).
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`mindbg: Node.js ${process.version} is too old: mindbg needs 22.19 or newer\nHint: install a newer Node.js, or use mindbg's single executable, which carries its own.\n`)
  process.exit(1)
}
