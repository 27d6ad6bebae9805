// The qkernels command line: dispatch (bin/qkernels.js -> lib/cli) and `qkernels inspect FILE` on a torch.save file written by torch.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { loadArchive } from '..';
import { COMMANDS, main } from '../dist/cli';
import { inspectRows } from '../dist/cli/inspect';
import { describeOracle, okResult, runOracle } from './oracle';

const BIN = path.join(__dirname, '..', 'bin', 'qkernels.js');

function capture(): { io: { stdout(line: string): void; stderr(line: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (line) => out.push(line), stderr: (line) => err.push(line) }, out, err };
}

describe('qkernels CLI dispatch', () => {
  test('every command is listed in the help with its usage', async () => {
    const { io, out } = capture();
    expect(await main(['--help'], io)).toBe(0);
    for (const command of Object.values(COMMANDS)) expect(out.join('\n')).toContain(command.usage);
  });

  test('no command and unknown commands exit 2 with the help on stderr', async () => {
    const none = capture();
    expect(await main([], none.io)).toBe(2);
    expect(none.err[0]).toMatch(/^usage: qkernels COMMAND/);
    const unknown = capture();
    expect(await main(['frobnicate'], unknown.io)).toBe(2);
    expect(unknown.err[0]).toBe("qkernels: unknown command 'frobnicate'");
  });

  test('inspect without a file prints its usage; a missing file is an error naming it', async () => {
    const usage = capture();
    expect(await main(['inspect'], usage.io)).toBe(2);
    expect(usage.err).toEqual(['usage: qkernels inspect FILE...']);
    const missing = capture();
    expect(await main(['inspect', '/nonexistent/model.pt'], missing.io)).toBe(1);
    expect(missing.err[0]).toMatch(/^qkernels inspect: .*\/nonexistent\/model\.pt/);
  });
});

describeOracle('qkernels inspect on files torch wrote', () => {
  let dir = '';

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-cli-'));
    okResult(runOracle([{ op: 'io_fixtures', dir }], { engine: 'onednn' })[0], 'io_fixtures');
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('bin/qkernels.js inspect lists every key with type, dtype, shape, qscheme, qparams and bytes', () => {
    const file = path.join(dir, 'vision.jit.pt');
    const child = spawnSync(process.execPath, [BIN, 'inspect', file], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const lines = child.stdout.trimEnd().split('\n');
    const archive = loadArchive(file);
    const { rows } = inspectRows(archive.stateDict);
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: torchscript archive, ${fs.statSync(file).size} bytes, ${archive.stateDict.size} keys`));
    expect(lines[1]).toMatch(/^key +type +dtype +shape +qscheme +bytes +qparams \/ value$/);
    // One line per leaf, in state-dict order, starting with its key.
    expect(lines.slice(2, 2 + rows.length).map((line) => line.split(/ +/)[0])).toEqual(rows.map((row) => row.key));
    const conv = lines.find((line) => line.startsWith('conv.weight '))!;
    expect(conv).toMatch(/QTensor +qint8 +\[8, 3, 3, 3\] +per_channel_affine +216 +axis 0 scales \S+ zero_points 0/);
    expect(lines.find((line) => line.startsWith('bn.num_batches_tracked '))).toMatch(/StoredTensor +int64 +\[\] +8 +value 0/);
    // The qparams only TorchScript keeps.
    expect(lines).toContain(`  hardswish.scale = ${String(archive.attributes.get('hardswish.scale'))}`);
  });

  test('a refused file exits 1 with the reason', () => {
    const child = spawnSync(process.execPath, [BIN, 'inspect', path.join(dir, 'whole_model.pt')], { encoding: 'utf8' });
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/refusing to load __main__\.Net/);
  });
});
