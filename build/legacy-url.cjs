// Used by build/vendor.mjs for docker-modem inside the dockerode bundle: node:url with the legacy parse() and
// resolve() computed the same way (through url.Url), minus the one-time DEP0169 warning. Node only warns about
// url.parse() when it is called from outside node_modules, which a bundle in dist/vendor is; mindbg's users would
// otherwise see a deprecation warning on every tcp:// DOCKER_HOST. And format() gives ssh:// URLs their slashes.
const url = require('node:url')

function parse(input, parseQueryString, slashesDenoteHost) {
  const parsed = new url.Url()
  parsed.parse(input, parseQueryString, slashesDenoteHost)
  return parsed
}

module.exports = {
  ...url,
  parse,
  // docker-modem formats an ssh:// DOCKER_HOST as "ssh:HOST:PORT" (no slashes: ssh is not one of url's "slashed"
  // protocols), which parse() then finds invalid (DEP0170, a warning today, an error in a later Node).
  format: (object) => url.format(object && /^ssh:?$/.test(object.protocol ?? '') ? {...object, slashes: true} : object),
  resolve: (from, to) => parse(from, false, true).resolveObject(parse(to, false, true)).format(),
}
