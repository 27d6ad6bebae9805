// The small zoo models on every dispatch path (each ISA level the CPU has, 1 and 2 threads): PyTorch's logits (onednn) bit for bit on each.
import { backend, load, models, Tensor } from '..';
import { runnablePaths, withPath, planLevels } from './helpers/paths';
import { agreement, asModuleState, zooFixtures, ZooFixture } from './helpers/zoo';
import { describeOracle } from './oracle';

const ARCHES = ['shufflenet_v2_x0_5', 'shufflenet_v2_x2_0', 'mobilenet_v2', 'resnet18'];

describeOracle('zoo models on every ISA level and thread count', () => {
  let fixtures: Map<string, ZooFixture>;
  let savedEngine: string | undefined;
  beforeAll(() => {
    fixtures = zooFixtures(ARCHES);
    savedEngine = backend.quantizedEngine();
    backend.setQuantizedEngine('onednn');
  }, 600000);
  afterAll(() => {
    if (savedEngine !== undefined) backend.setQuantizedEngine(savedEngine as 'fbgemm');
  });

  test('levels this machine skips say why', () => {
    for (const plan of planLevels()) if (plan.skipReason !== null) expect(plan.skipReason.length).toBeGreaterThan(0);
    expect(runnablePaths().length).toBeGreaterThanOrEqual(2);
  });

  for (const arch of ARCHES) {
    test(`${arch}: identical logits on ${runnablePaths().map((p) => `${p.isa}/${p.threads}t`).join(', ')}, PyTorch's logits on each`, () => {
      const fixture = fixtures.get(arch)!;
      const model = models.architectures[arch]();
      model.loadStateDict(asModuleState(load(fixture.stateDictFile)));
      let reference: Buffer | null = null;
      let referencePath = '';
      for (const path of runnablePaths()) {
        const logits = withPath(path, () => (model.forward(fixture.inputs) as Tensor).contiguous().data);
        const bytes = Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength);
        if (reference === null) {
          reference = Buffer.from(bytes);
          referencePath = `${path.isa}/${path.threads}t`;
        } else if (!bytes.equals(reference)) {
          throw new Error(`${arch}: logits on ${path.isa}/${path.threads}t differ from ${referencePath}`);
        }
        const a = agreement(logits, fixture.logits, fixture.meta.logitsShape[0], fixture.meta.outputScale);
        expect(a.top1Equal).toBe(a.inputs);
        if (a.maxQuanta !== 0) throw new Error(`${arch} on ${path.isa}/${path.threads}t: logits up to ${a.maxQuanta} quanta from PyTorch's`);
      }
    }, 300000);
  }
});
