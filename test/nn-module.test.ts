// nn.Module's tree walk, state-dict protocol (prefixes, strict errors, all-or-nothing loading) and print format, on small test modules.
import { nn, tensor, Tensor } from '..';

// A module with one float entry, as a module family would write its hooks.
class Holder extends nn.Module {
  value: Tensor;
  constructor(readonly size: number) {
    super();
    this.value = tensor(new Float32Array(size).fill(1), [size]);
  }
  override extraRepr(): string {
    return `size=${this.size}`;
  }
  protected override saveToStateDict(dest: nn.StateDict, prefix: string): void {
    dest.set(`${prefix}value`, this.value);
  }
  protected override loadFromStateDict(ctx: nn.LoadContext, prefix: string): (() => void) | void {
    const value = ctx.read(`${prefix}value`, (v) => {
      if (!(v instanceof Tensor)) throw new TypeError('Expected a Tensor');
      if (v.shape.length !== 1 || v.shape[0] !== this.size) throw new RangeError(`size mismatch: [${v.shape}] vs [${this.size}]`);
      return v;
    });
    if (value !== undefined) return () => { this.value = value; };
  }
  override forward(x: number): number {
    return x + this.size;
  }
}

class Net extends nn.Module {
  first = new Holder(2);
  block = new nn.Sequential(new Holder(3), new nn.Sequential(new Holder(4)));
  list = new nn.ModuleList([new Holder(5)]);
  dict = new nn.ModuleDict(new Map<string, nn.Module>([['b', new Holder(6)], ['1', new Holder(7)]]));
  notAChild = [new Holder(9)];
  override forward(x: number): number {
    return this.block.forward(this.first.forward(x));
  }
}

const values = (n: number, v: number) => tensor(new Float32Array(n).fill(v), [n]);

describe('nn.Module', () => {
  test('children, modules and getSubmodule follow definition order and dotted names', () => {
    const net = new Net();
    expect([...net.namedChildren()].map(([n]) => n)).toEqual(['first', 'block', 'list', 'dict']);
    expect([...net.namedModules()].map(([n]) => n)).toEqual(['', 'first', 'block', 'block.0', 'block.1', 'block.1.0', 'list', 'list.0', 'dict', 'dict.b', 'dict.1']);
    expect((net.getSubmodule('block.1.0') as Holder).size).toBe(4);
    expect(net.getSubmodule('')).toBe(net);
    expect(() => net.getSubmodule('block.2')).toThrow("Sequential at 'block' has no submodule '2'");
    expect(net.block[0]).toBe(net.getSubmodule('block.0'));
    expect(net.forward(1)).toBe(1 + 2 + 3 + 4);
  });

  test('stateDict uses prefixed keys in torch order; loadStateDict round-trips', () => {
    const net = new Net();
    const sd = net.stateDict();
    expect([...sd.keys()]).toEqual(['first.value', 'block.0.value', 'block.1.0.value', 'list.0.value', 'dict.b.value', 'dict.1.value']);
    const other = new Net();
    const changed = new Map(sd);
    changed.set('block.1.0.value', values(4, 5));
    expect(other.loadStateDict(changed)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect((other.getSubmodule('block.1.0') as Holder).value.data[0]).toBe(5);
    // a plain object works too
    other.loadStateDict(Object.fromEntries(sd));
    expect((other.getSubmodule('block.1.0') as Holder).value.data[0]).toBe(1);
  });

  test('strict loading reports every problem in one error and changes nothing', () => {
    const net = new Net();
    const sd = net.stateDict();
    sd.delete('first.value');
    sd.delete('dict.1.value');
    sd.set('extra', 1);
    sd.set('block.0.value', values(2, 8));
    sd.set('list.0.value', values(5, 8));
    let error: unknown;
    try {
      net.loadStateDict(sd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(nn.StateDictError);
    const e = error as nn.StateDictError;
    expect(e.missingKeys).toEqual(['first.value', 'dict.1.value']);
    expect(e.unexpectedKeys).toEqual(['extra']);
    expect(e.errors).toHaveLength(1);
    expect(e.message).toContain('Error(s) in loading state_dict for Net:');
    expect(e.message).toContain('"block.0.value"');
    // list.0 was valid but nothing may be applied
    expect((net.getSubmodule('list.0') as Holder).value.data[0]).toBe(1);
    // non-strict: missing/unexpected returned, valid entries applied; bad shapes still refused
    sd.set('block.0.value', values(3, 8));
    const result = net.loadStateDict(sd, { strict: false });
    expect(result).toEqual({ missingKeys: ['first.value', 'dict.1.value'], unexpectedKeys: ['extra'] });
    expect((net.getSubmodule('list.0') as Holder).value.data[0]).toBe(8);
    expect(() => net.loadStateDict(sd, { strict: 'no' as unknown as boolean })).toThrow(TypeError);
    expect(() => net.loadStateDict([] as unknown as nn.StateDict)).toThrow(TypeError);
  });

  test('a module reachable under two names saves and loads under both, as torch', () => {
    const shared = new Holder(2);
    const seq = new nn.Sequential(shared, shared);
    expect([...seq.stateDict().keys()]).toEqual(['0.value', '1.value']);
    expect([...seq.namedModules()].map(([n]) => n)).toEqual(['', '0']);
  });

  test('toString prints the tree like print(model)', () => {
    expect(new Net().toString()).toBe(
      [
        'Net(',
        '  (first): Holder(size=2)',
        '  (block): Sequential(',
        '    (0): Holder(size=3)',
        '    (1): Sequential(',
        '      (0): Holder(size=4)',
        '    )',
        '  )',
        '  (list): ModuleList(',
        '    (0): Holder(size=5)',
        '  )',
        '  (dict): ModuleDict(',
        '    (b): Holder(size=6)',
        '    (1): Holder(size=7)',
        '  )',
        ')',
      ].join('\n'),
    );
    expect(new nn.Sequential().toString()).toBe('Sequential()');
  });

  test('containers: append, insert, slice, ModuleDict access, errors', async () => {
    const seq = new nn.Sequential(new Holder(1), new Holder(2));
    seq.append(new Holder(3));
    expect(seq.length).toBe(3);
    expect((seq.at(-1) as Holder).size).toBe(3);
    expect(seq.forward(0)).toBe(6);
    await expect(seq.forwardAsync(0)).resolves.toBe(6);
    expect([...seq.slice(1).namedChildren()].map(([n]) => n)).toEqual(['1', '2']);
    const list = new nn.ModuleList([new Holder(1), new Holder(3)]);
    list.insert(1, new Holder(2));
    expect([...list].map((m) => (m as Holder).size)).toEqual([1, 2, 3]);
    expect((list[2] as Holder).size).toBe(3);
    const dict = new nn.ModuleDict({ conv: new Holder(1) });
    expect((dict.get('conv') as Holder).size).toBe(1);
    expect(dict.pop('conv')).toBeInstanceOf(Holder);
    expect(dict.length).toBe(0);
    expect(() => new nn.Sequential(1 as unknown as nn.Module)).toThrow('Expected an nn.Module for modules[0]');
    expect(() => new nn.Module().forward()).toThrow('missing the required "forward" function');
  });
});
