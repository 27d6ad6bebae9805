// nn.Identity: returns its input; its own file because the elementwise modules hold one (torch's activation_post_process slot) and glue.ts imports them.

import { Module } from './module';

/** torch.nn.Identity: returns its input (any value). Constructor arguments are ignored, as torch's. */
export class Identity extends Module {
  // torch's Identity(*args, **kwargs) accepts and ignores arguments.
  constructor(...ignored: unknown[]) {
    super();
    void ignored;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override forward<T>(x: T): T {
    return x;
  }

  override async forwardAsync<T>(x: T): Promise<T> {
    return x;
  }
}
