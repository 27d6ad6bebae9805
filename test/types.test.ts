// The published type declarations: a consumer file compiles against `qkernels` (CJS and ESM resolution), and misuse does not.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const consumer = path.join(__dirname, 'types', 'consumer.ts');

function diagnosticsFor(options: ts.CompilerOptions): string[] {
  const program = ts.createProgram([consumer], {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: [], // what a consumer without @types/node sees
    lib: ['lib.es2020.d.ts'],
    target: ts.ScriptTarget.ES2020,
    ...options,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1} ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}

describe('type declarations', () => {
  test('compile for a CommonJS consumer (moduleResolution node16) with every misuse rejected', () => {
    expect(diagnosticsFor({ module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 })).toEqual([]);
  });

  test('compile for a bundler consumer (moduleResolution bundler, ESM)', () => {
    expect(diagnosticsFor({ module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler })).toEqual([]);
  });

  test('`using` type-checks on every module (Symbol.dispose typed as TypeScript\'s lib.esnext.disposable types it)', () => {
    // Written at test time: the tests' own tsconfig has no esnext.disposable lib.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-using-'));
    const file = path.join(dir, 'using.ts');
    const root = JSON.stringify(path.resolve(__dirname, '..'));
    fs.writeFileSync(file, [
      `import { models, nn, nnq } from ${root};`,
      'export function run(): void {',
      '  using net = models.quantization.shufflenetV2X0_5();',
      '  using seq = new nn.Sequential(new nnq.Conv2d(3, 2, 3));',
      '  using linear = new nnq.Linear(4, 2);',
      '  const disposable: Disposable = seq;',
      '  void [net, linear, disposable];',
      '}',
      '// @ts-expect-error a number is not disposable',
      'export function misuse(): void { using n = 3; void n; }',
    ].join('\n'));
    try {
      const program = ts.createProgram([file], {
        strict: true, noEmit: true, skipLibCheck: false, types: [], target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
      });
      expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
