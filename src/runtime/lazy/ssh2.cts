/**
 * Stand-in for `ssh2` inside docker-modem: ssh2 costs ~45 ms to load and is used only for ssh:// DOCKER_HOST.
 * The real module is loaded on the first `new Client()`.
 */
import path = require('node:path')

type Ssh2 = {Client: new (...args: unknown[]) => object}
let real: Ssh2 | undefined

function load(): Ssh2 {
  // An absolute path, so the resolve hook that brought docker-modem here does not redirect it again.
  const modemDir = path.dirname(require.resolve('docker-modem'))
  real ??= require(require.resolve('ssh2', {paths: [modemDir]})) as Ssh2
  return real
}

class Client {
  constructor(...args: unknown[]) {
    const RealClient = load().Client
    return new RealClient(...args)
  }
}

export = {Client}
