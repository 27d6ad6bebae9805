// View steps (permute, reshape, view, flatten, contiguous) in the form the oracle's view_chain takes, applied to qkernels tensors.
import { QTensor, Tensor } from '../..';

export type MemoryFormat = 'contiguous_format' | 'channels_last' | 'channels_last_3d';

export type Step =
  | ['permute', number[]]
  | ['reshape', number[]]
  | ['view', number[]]
  | ['flatten', [number, number]]
  | ['contiguous', MemoryFormat | null];

/** Applies one step; Tensor and QTensor share the method names and meanings (torch's). */
export function applyStep<T extends Tensor | QTensor>(t: T, step: Step): T {
  const target = t as Tensor & QTensor;
  switch (step[0]) {
    case 'permute':
      return target.permute(step[1]) as T;
    case 'reshape':
      return target.reshape(step[1]) as T;
    case 'view':
      return target.view(step[1]) as T;
    case 'flatten':
      return target.flatten(step[1][0], step[1][1]) as T;
    case 'contiguous':
      return (step[1] === null ? target.contiguous() : target.contiguous(step[1])) as T;
  }
}

export function applySteps<T extends Tensor | QTensor>(t: T, steps: readonly Step[]): T {
  return steps.reduce((current, step) => applyStep(current, step), t);
}

export function describeSteps(steps: readonly Step[]): string {
  return steps.map((s) => `${s[0]}(${s[1] === null ? '' : JSON.stringify(s[1])})`).join('.');
}
