import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {configPath, loadConfig, validateConfig} from '../../src/cli/config.js'

describe('configPath', () => {
  it.each([
    [{MINDBG_CONFIG: '/etc/mindbg.yaml', XDG_CONFIG_HOME: '/x', HOME: '/home/a'}, '/etc/mindbg.yaml'],
    [{XDG_CONFIG_HOME: '/x', HOME: '/home/a'}, '/x/mindbg/config.yaml'],
    [{HOME: '/home/a'}, '/home/a/.config/mindbg/config.yaml'],
  ])('%j', (env, path) => expect(configPath(env)).toBe(path))
})

describe('validateConfig', () => {
  it('accepts every key', () => {
    expect(
      validateConfig({image: 'busybox:1', profile: 'netadmin', pull: 'never', requireReason: true, siblings: [{match: 'a(.*)', replace: 'b$1'}]}, 'f'),
    ).toEqual({path: 'f', image: 'busybox:1', profile: 'netadmin', pull: 'never', requireReason: true, siblings: [{match: 'a(.*)', replace: 'b$1'}]})
    expect(validateConfig({auditLog: false}, 'f')).toMatchObject({auditLog: false})
    expect(validateConfig({auditLog: '/var/log/mindbg.jsonl'}, 'f')).toMatchObject({auditLog: '/var/log/mindbg.jsonl'})
  })

  it.each([
    [[], /top level/],
    [{imag: 'x'}, /unknown key "imag"/],
    [{image: ''}, /"image"/],
    [{profile: 'root'}, /"profile" must be one of/],
    [{pull: 'sometimes'}, /"pull"/],
    [{requireReason: 'yes'}, /"requireReason"/],
    [{auditLog: true}, /"auditLog" must be a file path, or false/],
    [{auditLog: ' '}, /"auditLog" must be a file path, or false/],
    [{siblings: {match: 'a'}}, /"siblings" must be a list/],
    [{siblings: [{match: 'a'}]}, /siblings\[0\]/],
    [{siblings: [{match: '(', replace: 'x'}]}, /not a valid regular expression/],
  ])('rejects %j', (data, message) => {
    expect(() => validateConfig(data, '/cfg.yaml')).toThrow(message)
    expect(() => validateConfig(data, '/cfg.yaml')).toThrow(/config file \/cfg.yaml/)
  })
})

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-config-'))

  it('no file at the default place: empty config', async () => {
    expect(await loadConfig({XDG_CONFIG_HOME: dir})).toEqual({path: undefined, siblings: []})
  })

  it('MINDBG_CONFIG naming a missing file is an error', async () => {
    await expect(loadConfig({MINDBG_CONFIG: join(dir, 'nope.yaml')})).rejects.toThrow(/does not exist/)
  })

  it('reads YAML and reports syntax errors with the file name', async () => {
    const good = join(dir, 'good.yaml')
    writeFileSync(good, 'image: registry.local/busybox:1\nrequireReason: true\n')
    expect(await loadConfig({MINDBG_CONFIG: good})).toMatchObject({image: 'registry.local/busybox:1', requireReason: true})
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'image: [unclosed\n')
    await expect(loadConfig({MINDBG_CONFIG: bad})).rejects.toThrow(/bad.yaml: not valid YAML/)
  })
})
