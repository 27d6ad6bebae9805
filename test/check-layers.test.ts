// scripts/check-layers.js: the tree keeps its layering and a loop-free binding, and the checker catches planted violations.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const checker = require('../scripts/check-layers.js') as {
  checkTree: (root: string, known?: Map<string, string>) => { violations: string[]; stale: string[]; known: number };
};

const ROOT = path.join(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-layers.js');

function plant(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

describe('check-layers', () => {
  test('the tree has no new layering violation, no element loop in native/addon/ and no stale KNOWN entry', () => {
    const result = checker.checkTree(ROOT);
    expect(result.violations).toEqual([]);
    expect(result.stale).toEqual([]);
  });

  describe('on a planted tree', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qk-layers-'));
      // Allowed: same layer, lower layer, tests include anything, fixed-bound loops in the binding.
      plant(dir, 'native/src/ops/good.cc', '#include "ops/good.h"\n#include "base/status.h"\n#include "pack/gemm-pack.h"\n#include <vector>\n');
      plant(dir, 'native/test/t.cc', '#include "addon/common.h"\n#include "reference/x.h"\n');
      plant(dir, 'native/reference/r.cc', '#include "reference/r.h"\n#include "base/conv-geometry.h"\n#include <cmath>\n');
      plant(dir, 'native/addon/ok.cc',
        '#include <napi.h>\n#include "ops/conv-op.h"\n// for (size_t i = 0; i < n; ++i) in a comment\n' +
        'void F(int dims) {\n  for (int d = 0; d < 3 && d < dims; ++d) {}\n  for (size_t i = 0; i < kLength; ++i) {}\n' +
        '  for (const auto* v : {&a, &b}) {}\n  for (const auto& f : kFlags) {}\n}\n');
      // Violations.
      plant(dir, 'native/src/pack/bad.h', '#include "ops/qgemm.h"\n');
      plant(dir, 'native/src/base/bad.cc', '#include "plan/plan.h"\n#include <napi.h>\n');
      plant(dir, 'native/reference/bad-ref.h', '#include "ukernels/ukernels.h"\n');
      plant(dir, 'native/addon/loops.cc',
        'void G(const float* x, size_t n) {\n  for (size_t i = 0; i < n; ++i) Use(x[i]);\n  while (n > 0) --n;\n}\n');
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('checkTree lists exactly the planted violations', () => {
      const result = checker.checkTree(dir, new Map([['native/src/ops/gone.cc -> plan/plan.h', 'fixed since']]));
      expect(result.violations.sort()).toEqual([
        'native/addon/loops.cc:2: for (size_t i = 0; i < n; ++i): a loop in the binding whose bound is not a compile-time constant (move it into native/src/ops/)',
        'native/addon/loops.cc:3: while (: a loop in the binding whose bound is not a compile-time constant (move it into native/src/ops/)',
        'native/reference/bad-ref.h -> ukernels/ukernels.h: reference/ may include only base/',
        'native/src/base/bad.cc -> napi.h: <napi.h> outside native/addon/',
        'native/src/base/bad.cc -> plan/plan.h: base/ includes the higher layer plan/',
        'native/src/pack/bad.h -> ops/qgemm.h: pack/ includes the higher layer ops/',
      ]);
      expect(result.stale).toEqual(['native/src/ops/gone.cc -> plan/plan.h']);
    });

    test('a KNOWN entry silences its violation only', () => {
      const result = checker.checkTree(dir, new Map([['native/src/pack/bad.h -> ops/qgemm.h', 'planted']]));
      expect(result.violations.some((v) => v.startsWith('native/src/pack/bad.h'))).toBe(false);
      expect(result.violations).toHaveLength(5);
      expect(result.known).toBe(1);
    });

    test('the command fails and names every violation', () => {
      const run = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('native/src/pack/bad.h -> ops/qgemm.h');
      expect(run.stderr).toContain('native/addon/loops.cc:2');
    });
  });
});
