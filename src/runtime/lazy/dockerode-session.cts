/**
 * Stand-in for dockerode's `lib/session.js`, which loads gRPC and protobuf (~65 ms) at start-up for BuildKit
 * builds, something mindbg never does. The real module is loaded on first call.
 */
import path = require('node:path')

type WithSession = (this: unknown, ...args: unknown[]) => unknown
let real: WithSession | undefined

function withSession(this: unknown, ...args: unknown[]): unknown {
  real ??= require(path.join(path.dirname(require.resolve('dockerode')), 'session.js')) as WithSession
  return real.apply(this, args)
}

export = withSession
