// `qkernels classify`: the demo's weights and image through the CLI table, the bin script, and the errors a user meets.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { backend } from '..';
import { PACKAGE_ROOT } from './helpers/child';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main } = require('../dist/cli/index.js') as { main(argv: string[], io: { stdout(l: string): void; stderr(l: string): void }): Promise<number> };

const ASSETS = path.join(PACKAGE_ROOT, 'demo', 'assets');
const WEIGHTS = path.join(ASSETS, 'shufflenet_v2_x0_5_quantized.pth');
const SAMPLE = path.join(ASSETS, 'sample.png');
const LABELS = path.join(ASSETS, 'imagenet_classes.json');

async function run(...argv: string[]): Promise<{ status: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { status, out, err };
}

describe('qkernels classify', () => {
  test('prints the top-k classes of each image, PyTorch\'s top-1 first', async () => {
    const saved = backend.quantizedEngine();
    backend.setQuantizedEngine('onednn'); // the demo weights were converted under onednn
    try {
      const { status, out, err } = await run('classify', '--arch', 'shufflenet_v2_x0_5', '--weights', WEIGHTS, '--top', '3', '--labels', LABELS, SAMPLE, SAMPLE);
      expect(err.join('\n')).toMatch(/shufflenet_v2_x0_5: 2 image\(s\) at 224x224/);
      expect(status).toBe(0);
      expect(out).toHaveLength(8);
      expect(out[0]).toBe(SAMPLE);
      // demo/assets/expected.json: PyTorch's top-1 for this image is class 80.
      expect(out[1]).toMatch(/^\s+\d+\.\d{4}\s+80 black grouse$/);
      expect(out.slice(4)).toEqual(out.slice(0, 4));
    } finally {
      backend.setQuantizedEngine(saved as 'fbgemm');
    }
  });

  test('usage errors exit 2 and say what is wrong', async () => {
    expect(await run('classify', '--weights', WEIGHTS, SAMPLE)).toMatchObject({ status: 2, err: [expect.stringMatching(/--arch is required/), expect.any(String)] });
    expect((await run('classify', '--arch', 'vgg16', '--weights', WEIGHTS, SAMPLE)).err[0]).toMatch(/unknown --arch vgg16 \(one of resnet18, /);
    expect((await run('classify', '--arch', 'resnet18', SAMPLE)).err[0]).toMatch(/--weights FILE is required/);
    expect((await run('classify', '--arch', 'resnet18', '--weights', WEIGHTS)).err[0]).toMatch(/no IMAGE/);
    expect((await run('classify', '--arch', 'resnet18', '--weights', WEIGHTS, '--top', '0', SAMPLE)).err[0]).toMatch(/positive integer for --top/);
  });

  test('weights of another architecture: exit 1 with the missing and unexpected keys', async () => {
    const { status, err } = await run('classify', '--arch', 'resnet18', '--weights', WEIGHTS, SAMPLE);
    expect(status).toBe(1);
    expect(err[0]).toMatch(/Error\(s\) in loading state_dict for QuantizableResNet/);
  });

  test('the bin script runs it', () => {
    const child = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'qkernels.js'), 'classify', '--arch', 'shufflenet_v2_x0_5', '--weights', WEIGHTS, '--top', '1', SAMPLE], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout.split('\n')[0]).toBe(SAMPLE);
    expect(child.stdout.split('\n')[1]).toMatch(/^\s+\d+\.\d{4}\s+\d+$/);
  });
});
