// The torchvision quantized zoo against PyTorch: generated models loaded from torch.save and TorchScript files, logits compared per input.
//
// scripts/zoo/make_zoo.py builds each model with torchvision 0.14 (random weights, BatchNorm
// statistics from data, onednn qconfig, calibrated, converted) and records PyTorch's logits.
// Here the same files load through load()/loadArchive() into models.quantization.*, and the
// logits must be PyTorch's bit for bit (qkernels set to onednn, the engine they were converted
// and run under); the share of exact logits and the largest difference in output quanta are
// printed as a table (the agreement table).
// resnet50, resnext101_32x8d and inception_v3 run with QKERNELS_ZOO_FULL=1 (minutes on 2 cores);
// QKERNELS_ZOO_ARCHES=a,b runs only those models.
import * as fs from 'fs';
import * as path from 'path';
import { backend, calibrate, load, loadArchive, models, observers, Tensor } from '..';
import { agreement, Agreement, agreementLine, asModuleState, selectedArches, zooCacheDir, zooFixtures, ZooFixture, ZOO_FULL } from './helpers/zoo';
import { describeOracle } from './oracle';

const SMALL = ['resnet18', 'mobilenet_v2', 'mobilenet_v3_large', 'shufflenet_v2_x0_5', 'shufflenet_v2_x1_0', 'shufflenet_v2_x1_5', 'shufflenet_v2_x2_0', 'googlenet'];
const LARGE = ['resnet50', 'resnext101_32x8d', 'inception_v3'];
const ARCHES = selectedArches(ZOO_FULL ? [...SMALL, ...LARGE] : SMALL);

function logitsOf(output: unknown): Float32Array {
  expect(output).toBeInstanceOf(Tensor);
  return (output as Tensor).contiguous().data;
}

describeOracle('torchvision quantized zoo against PyTorch', () => {
  let fixtures: Map<string, ZooFixture>;
  const table: string[] = [];

  let savedEngine: string | undefined;
  beforeAll(() => {
    fixtures = zooFixtures(ARCHES);
    // The models were converted and run under torch's onednn engine: reproduce its arithmetic.
    savedEngine = backend.quantizedEngine();
    backend.setQuantizedEngine('onednn');
  }, 900000);

  afterAll(() => {
    if (savedEngine !== undefined) backend.setQuantizedEngine(savedEngine as 'fbgemm');
    if (table.length === 0) return;
    const text = [`zoo agreement with PyTorch 1.13 (onednn), ${ZOO_FULL ? 'all models' : 'default models (QKERNELS_ZOO_FULL=1 for all)'}:`, ...table].join('\n');
    process.stdout.write(`\n${text}\n`);
    fs.writeFileSync(path.join(zooCacheDir(), 'agreement.txt'), `${text}\n`);
  });

  function check(arch: string, source: string, output: unknown, fixture: ZooFixture): Agreement {
    const a = agreement(logitsOf(output), fixture.logits, fixture.meta.logitsShape[0], fixture.meta.outputScale);
    table.push(agreementLine(arch, source, a));
    expect(a.top1Equal).toBe(a.inputs);
    // qkernels follows onednn's arithmetic: PyTorch's logits bit for bit, no allowance.
    expect(a.maxQuanta).toBe(0);
    expect(a.exactShare).toBe(1);
    return a;
  }

  for (const arch of ARCHES) {
    test(`${arch}: torch.save state dict loads with torchvision's keys and agrees with PyTorch`, async () => {
      const fixture = fixtures.get(arch)!;
      const stateDict = load(fixture.stateDictFile);
      const model = models.architectures[arch]();
      model.loadStateDict(asModuleState(stateDict));
      // The tree is torchvision's: the same keys, in the same order, come back out.
      expect([...model.stateDict().keys()]).toEqual([...stateDict.keys()]);
      // ... and prints as print(model) does, every module and qparam included.
      expect(model.toString()).toBe(fixture.repr);
      if (arch === 'mobilenet_v3_large') {
        expect(() => model.forward(fixture.inputs)).toThrow(/output qparams missing for features\.0\.2 \(QuantizedHardswish\)/);
        expect(observers.uncalibratedModules(model).length).toBe(Object.keys(fixture.meta.calibrated).length);
        const chosen = calibrate(model, fixture.calibration);
        expect(Object.fromEntries(chosen)).toEqual(fixture.meta.calibrated);
      }
      const output = model.forward(fixture.inputs);
      check(arch, 'torch.save', output, fixture);
      const asyncOutput = await model.forwardAsync(fixture.inputs);
      expect(Buffer.from(logitsOf(asyncOutput).buffer).equals(Buffer.from(logitsOf(output).buffer))).toBe(true);
    }, 300000);

    test(`${arch}: TorchScript archive loads (qparams attributes included) and agrees with PyTorch`, () => {
      const fixture = fixtures.get(arch)!;
      const archive = loadArchive(fixture.torchScriptFile);
      expect(archive.format).toBe('torchscript');
      const model = models.architectures[arch]();
      model.loadStateDict(asModuleState(archive.stateDict));
      observers.loadOutputQParams(model, archive.attributes);
      expect(observers.uncalibratedModules(model)).toEqual([]);
      check(arch, 'TorchScript', model.forward(fixture.inputs), fixture);
    }, 300000);
  }
});
