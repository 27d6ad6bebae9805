// The value types of a state dict as load() returns it (the contract of doc/models.md "Loading files").

import type { QTensor } from '../qtensor';
import type { Tensor } from '../tensor';
import type { StoredTensor } from './stored-tensor';

/**
 * One value of a state dict: float32 tensors as Tensor, quantized ones as QTensor, other
 * dtypes as StoredTensor; Python int as number (bigint beyond 2^53), float as number, str,
 * bool, None as null, tuple/list as array, dict/OrderedDict as Map, torch.Size as number[],
 * torch.dtype/qscheme as their names ('torch.qint8'), bytes as Uint8Array.
 */
export type StateValue =
  | Tensor
  | QTensor
  | StoredTensor
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | StateValue[]
  | Map<string | number | bigint | boolean | null, StateValue>;

/** What load() returns: keys in PyTorch's order (state_dict() order). */
export type StateDict = Map<string, StateValue>;
