/**
 * A throw-away self-signed certificate for 127.0.0.1.
 *
 * Why TLS at all: client-go's clientcmd only puts the user's credentials (bearer token) into the REST config when the
 * server URL is https ("only set auth info if https"), so over plain http kubectl sends no Authorization header and
 * RBAC could not be exercised. node:crypto can make keys but not X.509 certificates, so the openssl CLI signs one
 * (about 15 ms); it is generated once per process and put into the kubeconfig as certificate-authority-data
 * (Go accepts a self-signed leaf that is itself in the root pool).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface TlsMaterial {
  cert: string
  key: string
}

let cached: TlsMaterial | undefined

export function selfSignedCert(): TlsMaterial {
  if (cached) return cached
  const dir = mkdtempSync(join(tmpdir(), 'kube-sim-tls-'))
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30', '-subj', '/CN=kube-sim',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], {stdio: ['ignore', 'ignore', 'pipe']})
    cached = {cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8')}
    return cached
  } catch (err) {
    const stderr = (err as {stderr?: Buffer}).stderr?.toString() ?? ''
    throw new Error(`kube-sim: cannot create a TLS certificate with openssl (is it installed?): ${stderr || String(err)}`)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
