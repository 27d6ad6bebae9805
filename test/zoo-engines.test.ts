// The zoo models under the qnnpack engine: torch runs each TorchScript archive with torch.backends.quantized.engine = 'qnnpack', qkernels the same files with setQuantizedEngine('qnnpack'); the logits must be equal.
//
// The models are the zoo test's (converted under onednn, per-channel weights); qnnpack runs
// them with its own arithmetic throughout: conv and linear output stages (int32 bias, fp32
// requantization), QNNPACK's add, global average pooling (mean), hardswish, average pooling.
// torch's qnnpack logits differ from its onednn ones in most places (80 to 98% of the logits of
// these models, measured), so this shows the engine is followed end to end. QKERNELS_ZOO_ARCHES picks
// models as in the zoo test.
//
// The second block converts models under qnnpack itself (torchvision's qnnpack qconfig: per-tensor
// weights; make_zoo.py --engine qnnpack): torch's logits come from the converting run, and qkernels
// loads the same model from its torch.save state dict (with calibrate() for the qparams it lacks)
// and from its TorchScript archive.
import { backend, calibrate, load, loadArchive, models, observers, Tensor } from '..';
import { runnablePaths, withPath } from './helpers/paths';
import { agreement, agreementLine, asModuleState, selectedArches, zooFixtures, ZooFixture } from './helpers/zoo';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

const ARCHES = selectedArches(['resnet18', 'mobilenet_v2', 'mobilenet_v3_large', 'shufflenet_v2_x0_5', 'shufflenet_v2_x1_0', 'shufflenet_v2_x1_5', 'shufflenet_v2_x2_0', 'googlenet']);

describeOracle('zoo models under the qnnpack engine: PyTorch\'s logits bit for bit', () => {
  let fixtures: Map<string, ZooFixture>;
  let torchLogits: OracleResult[] = [];
  let savedEngine: string | undefined;
  const table: string[] = [];

  beforeAll(() => {
    fixtures = zooFixtures(ARCHES);
    const cases = ARCHES.map((arch) => {
      const f = fixtures.get(arch)!;
      return { op: 'zoo_logits', archive: f.torchScriptFile, inputs: `${f.stateDictFile.slice(0, -'.pth'.length)}.inputs.bin`, input_shape: f.meta.inputShape };
    });
    torchLogits = runOracle(cases, { engine: 'qnnpack' }).map((r, i) => okResult(r, ARCHES[i]));
    savedEngine = backend.quantizedEngine();
    backend.setQuantizedEngine('qnnpack');
  }, 900000);

  afterAll(() => {
    if (savedEngine !== undefined) backend.setQuantizedEngine(savedEngine as 'fbgemm');
    if (table.length > 0) process.stdout.write(`\nzoo agreement with PyTorch 1.13 (qnnpack):\n${table.join('\n')}\n`);
  });

  for (const arch of ARCHES) {
    test(`${arch}: TorchScript archive under qnnpack gives torch's qnnpack logits on every path`, () => {
      const fixture = fixtures.get(arch)!;
      const r = torchLogits[ARCHES.indexOf(arch)];
      expect(r.engine).toBe('qnnpack');
      const expected = r.logits.data as Float32Array;
      // The onednn logits are not the qnnpack ones (else this test would not show the engine).
      let apart = 0;
      for (let i = 0; i < expected.length; i++) if (expected[i] !== fixture.logits[i]) apart++;
      expect(apart).toBeGreaterThan(expected.length / 10);
      const archive = loadArchive(fixture.torchScriptFile);
      const model = models.architectures[arch]();
      model.loadStateDict(asModuleState(archive.stateDict));
      observers.loadOutputQParams(model, archive.attributes);
      // Every dispatch path (each ISA level this CPU has, 1 and 2 threads) gives torch's logits.
      runnablePaths().forEach((path, index) => {
        const got = withPath(path, () => (model.forward(fixture.inputs) as Tensor).contiguous().data);
        const a = agreement(got, expected, fixture.meta.logitsShape[0], fixture.meta.outputScale);
        if (index === 0) table.push(agreementLine(arch, 'TorchScript', a));
        if (a.maxQuanta !== 0 || a.exactShare !== 1) {
          throw new Error(`${arch} on ${path.isa}/${path.threads}t: ${(100 * a.exactShare).toFixed(1)}% exact, up to ${a.maxQuanta} quanta`);
        }
        expect(a.top1Equal).toBe(a.inputs);
      });
    }, 300000);
  }
});

const QNNPACK_ARCHES = selectedArches(['resnet18', 'mobilenet_v2', 'mobilenet_v3_large', 'shufflenet_v2_x0_5', 'googlenet']);

describeOracle('zoo models converted under qnnpack: PyTorch\'s logits bit for bit', () => {
  let fixtures: Map<string, ZooFixture>;
  let savedEngine: string | undefined;
  const table: string[] = [];

  beforeAll(() => {
    fixtures = zooFixtures(QNNPACK_ARCHES, 'qnnpack');
    savedEngine = backend.quantizedEngine();
    backend.setQuantizedEngine('qnnpack');
  }, 900000);

  afterAll(() => {
    if (savedEngine !== undefined) backend.setQuantizedEngine(savedEngine as 'fbgemm');
    if (table.length > 0) process.stdout.write(`\nzoo (converted under qnnpack) agreement with PyTorch 1.13:\n${table.join('\n')}\n`);
  });

  for (const arch of QNNPACK_ARCHES) {
    test(`${arch}: state dict and TorchScript archive give torch's qnnpack logits on every path`, () => {
      const fixture = fixtures.get(arch)!;
      expect(fixture.meta.engine).toBe('qnnpack');
      const fromStateDict = models.architectures[arch]();
      fromStateDict.loadStateDict(asModuleState(load(fixture.stateDictFile)));
      if (observers.uncalibratedModules(fromStateDict).length > 0) {
        expect(Object.fromEntries(calibrate(fromStateDict, fixture.calibration))).toEqual(fixture.meta.calibrated);
      }
      const archive = loadArchive(fixture.torchScriptFile);
      const fromArchive = models.architectures[arch]();
      fromArchive.loadStateDict(asModuleState(archive.stateDict));
      observers.loadOutputQParams(fromArchive, archive.attributes);
      for (const [source, model] of [['state dict', fromStateDict], ['TorchScript', fromArchive]] as const) {
        runnablePaths().forEach((path, index) => {
          const got = withPath(path, () => (model.forward(fixture.inputs) as Tensor).contiguous().data);
          const a = agreement(got, fixture.logits, fixture.meta.logitsShape[0], fixture.meta.outputScale);
          if (index === 0) table.push(agreementLine(arch, source, a));
          if (a.maxQuanta !== 0 || a.exactShare !== 1) {
            throw new Error(`${arch} (${source}) on ${path.isa}/${path.threads}t: ${(100 * a.exactShare).toFixed(1)}% exact, up to ${a.maxQuanta} quanta`);
          }
          expect(a.top1Equal).toBe(a.inputs);
        });
      }
    }, 300000);
  }
});
