// The published type declarations: a consumer file compiles against `qkernels` (CJS and ESM resolution), and misuse does not.
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
});
