# Oracle handlers of the embedding family: rowwise prepack/unpack, bag lookups (quantized sum, float mean/max), the modules.

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers

import torch.nn.functional as F
import torch.ao.nn.quantized as nnq
import torch.ao.quantization as tq
from torch.ao.nn.quantized.modules.utils import _quantize_weight


def op_embedding_prepack(case):
    """torch.ops.quantized.embedding_bag_{byte,4bit}_prepack(weight[, optimized_qparams])."""
    if int(case["bits"]) == 8:
        packed = torch.ops.quantized.embedding_bag_byte_prepack(case["weight"])
    else:
        packed = torch.ops.quantized.embedding_bag_4bit_prepack(case["weight"], bool(case.get("optimized", False)))
    return {"packed": packed}


def op_embedding_unpack(case):
    """torch.ops.quantized.embedding_bag_{byte,4bit}_unpack(packed)."""
    if int(case["bits"]) == 8:
        return {"weight": torch.ops.quantized.embedding_bag_byte_unpack(case["packed"])}
    return {"weight": torch.ops.quantized.embedding_bag_4bit_unpack(case["packed"])}


def bag_ids(offsets, n, include_last_offset):
    """Bag number of each index position (-1: after the last bag), from offsets."""
    offs = [int(v) for v in offsets.tolist()]
    ends = offs[1:] + ([] if include_last_offset else [n])
    starts = offs[: len(ends)]
    ids = [-1] * n
    for b, (s, e) in enumerate(zip(starts, ends)):
        for i in range(s, e):
            ids[i] = b
    return ids, len(ends)


def drop_positions(indices, offsets, weights, keep, include_last_offset):
    """Removes index positions (keep[i] False) and shifts the offsets to match."""
    n = indices.numel()
    kept_before = [0] * (n + 1)
    for i in range(n):
        kept_before[i + 1] = kept_before[i] + (1 if keep[i] else 0)
    new_offsets = torch.tensor([kept_before[int(o)] for o in offsets.tolist()], dtype=offsets.dtype)
    mask = torch.tensor(keep, dtype=torch.bool) if n > 0 else torch.zeros(0, dtype=torch.bool)
    return indices[mask], new_offsets, (weights[mask] if weights is not None else None)


def op_embedding_bag(case):
    """A bag lookup on a packed table. mode sum: torch.ops.quantized.embedding_bag_*_rowwise_offsets
    (padding_idx, which torch's quantized op lacks, by removing those positions first); mode
    mean/max: float F.embedding_bag on the unpacked table (pruning, which float torch lacks,
    by mapping the indices and removing pruned positions first)."""
    bits = int(case["bits"])
    packed = case["packed"]
    indices = case["indices"]
    offsets = case["offsets"]
    include_last = bool(case.get("include_last_offset", False))
    weights = case.get("per_sample_weights")
    mapping = case.get("mapping")
    pruned = bool(case.get("pruned", False))
    padding_idx = case.get("padding_idx")
    mode = case.get("mode", "sum")
    if mode == "sum":
        if padding_idx is not None:
            keep = [int(v) != int(padding_idx) for v in indices.tolist()]
            indices, offsets, weights = drop_positions(indices, offsets, weights, keep, include_last)
        fn = torch.ops.quantized.embedding_bag_byte_rowwise_offsets if bits == 8 else torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
        out = fn(packed, indices, offsets, False, 0, pruned, weights, mapping, include_last)
        return {"out": out}
    table = (torch.ops.quantized.embedding_bag_byte_unpack if bits == 8 else torch.ops.quantized.embedding_bag_4bit_unpack)(packed)
    if pruned and not (mapping.numel() == 1 and int(mapping[0]) == 0):
        keep = [padding_idx is None or int(v) != int(padding_idx) for v in indices.tolist()]
        indices, offsets, _ = drop_positions(indices, offsets, None, keep, include_last)
        mapped = mapping.to(torch.int64)[indices.to(torch.int64)] if indices.numel() > 0 else indices.to(torch.int64)
        keep = [int(v) != -1 for v in mapped.tolist()]
        indices, offsets, _ = drop_positions(mapped, offsets, None, keep, include_last)
        padding_idx = None
    out = F.embedding_bag(indices.to(torch.int64), table, offsets.to(torch.int64), mode=mode,
                          include_last_offset=include_last, padding_idx=None if padding_idx is None else int(padding_idx))
    return {"out": out}


def qconfig_for(dtype):
    if dtype == "quint4x2":
        return tq.float_qparams_weight_only_qconfig_4bit
    return tq.float_qparams_weight_only_qconfig


def op_embedding_module(case):
    """nnq.Embedding / nnq.EmbeddingBag .from_float of a float module with float_qparams_weight_only_qconfig
    (4-bit: ..._4bit), then forward (4-bit Embedding: torch.ops.quantized.embedding_4bit, see below).
    Returns the output and the quantized weight."""
    weight = case["weight"]
    rows, dim = weight.shape
    dtype = case.get("dtype", "quint8")
    if case["kind"] == "Embedding":
        float_mod = torch.nn.Embedding(rows, dim)
    else:
        float_mod = torch.nn.EmbeddingBag(rows, dim, mode="sum", include_last_offset=bool(case.get("include_last_offset", False)))
    float_mod.weight.data = weight.clone()
    float_mod.qconfig = qconfig_for(dtype)
    qmod = (nnq.Embedding if case["kind"] == "Embedding" else nnq.EmbeddingBag).from_float(float_mod)
    if case["kind"] == "EmbeddingBag":
        # torch 1.13's from_float drops include_last_offset (qkernels' fromFloat keeps it).
        qmod.include_last_offset = bool(case.get("include_last_offset", False))
    if case["kind"] == "Embedding" and dtype == "quint4x2":
        # torch 1.13's nnq.Embedding(quint4x2).forward raises ("numel: integer multiplication
        # overflow"); the op it means to call works: one row per index.
        indices = case["indices"]
        flat = torch.ops.quantized.embedding_4bit(qmod._packed_params._packed_weight, indices.flatten(), False)
        out = flat.reshape(list(indices.shape) + [dim])
    elif case["kind"] == "Embedding":
        out = qmod(case["indices"])
    else:
        out = qmod(case["indices"], case.get("offsets"), per_sample_weights=case.get("per_sample_weights"))
    # The weight from_float packs, made the way from_float makes it: torch 1.13's qmod.weight()
    # (PackedEmbeddingBagWeight::unpack) returns garbage in its first per-channel scales.
    observer = qconfig_for(dtype).weight()
    observer(weight)
    w = _quantize_weight(weight.float(), observer)
    return {
        "out": out,
        "int_repr": int_repr(w),
        "scales": w.q_per_channel_scales().to(torch.float32),
        "zero_points": w.q_per_channel_zero_points().to(torch.float32),
    }


HANDLERS = {
    "embedding_prepack": op_embedding_prepack,
    "embedding_unpack": op_embedding_unpack,
    "embedding_bag": op_embedding_bag,
    "embedding_module": op_embedding_module,
}
