// The binding of embedding and embedding-bag (prepack, unpack, lookups): sync and async, every length re-checked natively.
#include <array>
#include <memory>
#include <string>

#include "addon/common.h"
#include "base/checked.h"
#include "ops/embedding.h"
#include "pack/embedding-pack.h"
#include "plan/function-step.h"

namespace qk {
namespace addon {
namespace {

int ArgBits(const Napi::CallbackInfo& info, size_t index) {
  const int64_t bits = ArgInt64(info, index, "bits");
  if (bits != 8 && bits != 4) ThrowRange(info.Env(), "8 or 4", "bits", info[index]);
  return static_cast<int>(bits);
}

// An Int32Array or BigInt64Array of indices or offsets (copied for async ops by ArgInput); *view is
// the array read, for the step inputs.
EmbeddingIndexArray ArgIndexArray(const Napi::CallbackInfo& info, size_t index, const char* parameter, PreparedOp* op,
                                  View* view_out) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray()) {
    ThrowType(env, "Int32Array or BigInt64Array", parameter, info[index]);
  }
  const napi_typedarray_type type = info[index].As<Napi::TypedArray>().TypedArrayType();
  if (type != napi_int32_array && type != napi_bigint64_array) {
    ThrowType(env, "Int32Array or BigInt64Array", parameter, info[index]);
  }
  const View view = ArgInput(info, index, type, parameter, op);
  EmbeddingIndexArray array;
  array.is64 = type == napi_bigint64_array;
  array.length = view.length;
  array.data = view.data;
  *view_out = view;
  return array;
}

// Bytes of a rows x dim table packed with `bits` (dim is info[2]).
size_t ArgPackedBytes(const Napi::CallbackInfo& info, size_t rows, size_t dim, int bits) {
  size_t row_bytes = 0, packed_bytes = 0;
  if (!EmbeddingPackedRowBytes(bits, dim, &row_bytes) || !CheckedMul(rows, row_bytes, &packed_bytes)) {
    ThrowRange(info.Env(), bits == 4 ? "an even dim whose table fits in memory" : "a dim whose table fits in memory",
               "dim", info[2]);
  }
  return packed_bytes;
}

// ---- shared tables -------------------------------------------------------------------------

// A packed table copied once into native memory that async lookups share by reference
// (issue 14: EmbeddingBag.forwardAsync copied its whole table on every call). Immutable
// after creation; each queued lookup keeps it alive through its snapshots.
struct TableHandle final : NativeHandle {
  static constexpr const char* kKind = "embedding table handle";
  explicit TableHandle(Snapshot table) : NativeHandle(kKind), bytes(std::move(table)) {}
  void Drop() override { bytes.reset(); }
  Snapshot bytes;
};

// embeddingTable(packed: Uint8Array) -> an opaque handle lookups take in place of the Uint8Array.
Napi::Value NewTable(const Napi::CallbackInfo& info) {
  PreparedOp copies;
  copies.snapshot_inputs = true;
  const View packed = ArgInput(info, 0, napi_uint8_array, "packed", &copies);  // a (pooled) copy
  auto* handle = new TableHandle(std::move(copies.snapshots.front()));
  return NewHandle(info.Env(), handle, packed.bytes);
}

// The table argument of a lookup: a Uint8Array (read in place by sync lookups, copied by
// async ones) or a table handle (shared, never copied).
View ArgTable(const Napi::CallbackInfo& info, size_t index, PreparedOp* op) {
  const Napi::Value value = info[index];
  if (value.IsExternal()) {
    const Snapshot& bytes = ArgHandle<TableHandle>(info, index, "packed")->bytes;
    op->snapshots.push_back(bytes);  // keeps the shared table alive for as long as the op
    View view;
    view.data = bytes->data();
    view.length = bytes->size();
    view.bytes = bytes->size();
    view.holder = value.As<Napi::Object>();
    return view;
  }
  return ArgInput(info, index, napi_uint8_array, "packed", op);
}

bool IsAbsent(const Napi::CallbackInfo& info, size_t index) {
  return index >= info.Length() || info[index].IsNull() || info[index].IsUndefined();
}

// embeddingBagPrepack(weight: Float32Array, rows, dim, bits, optimizedQparams) -> Uint8Array(rows * rowBytes)
PreparedOp PreparePrepack(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View weight = ArgInput(info, 0, napi_float32_array, "weight", &op);
  const size_t rows = ArgSize(info, 1, "rows");
  const size_t dim = ArgSize(info, 2, "dim");
  const int bits = ArgBits(info, 3);
  const bool optimized = ArgBool(info, 4, "optimizedQparams");
  size_t numel = 0;
  if (!CheckedMul(rows, dim, &numel) || numel > weight.length) {
    ThrowRange(info.Env(), "Float32Array of rows * dim values", "weight", weight.holder);
  }
  const size_t packed_bytes = ArgPackedBytes(info, rows, dim, bits);
  Output out = NewOutput(info.Env(), napi_uint8_array, packed_bytes);
  const size_t weight_len = weight.length;
  SetStep(&op,
          std::make_shared<FunctionStep>("embedding_bag_prepack",
                                         [=](const void* const* in, void* y, void*) {
                                           return EmbeddingBagPrepack(bits, static_cast<const float*>(in[0]), weight_len,
                                                                      rows, dim, optimized, static_cast<uint8_t*>(y),
                                                                      packed_bytes);
                                         }),
          {weight}, out);
  return op;
}

// embeddingBagPackQuantized(q: Uint8Array, rows, dim, bits, scales: Float32Array, zeroPoints: Float32Array)
//   -> Uint8Array(rows * rowBytes): the packing of a per_channel_affine_float_qparams weight.
PreparedOp PreparePackQuantized(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View q = ArgInput(info, 0, napi_uint8_array, "weight", &op);
  const size_t rows = ArgSize(info, 1, "rows");
  const size_t dim = ArgSize(info, 2, "dim");
  const int bits = ArgBits(info, 3);
  View scales = ArgInput(info, 4, napi_float32_array, "scales", &op);
  View zero_points = ArgInput(info, 5, napi_float32_array, "zeroPoints", &op);
  if (zero_points.length != scales.length) ThrowRange(info.Env(), "as many zero points as scales", "zeroPoints", info[5]);
  // Checked before the output is allocated, so a table size that lies costs nothing.
  if (scales.length != rows) ThrowRange(info.Env(), "one scale per row", "scales", info[4]);
  size_t needed = 0;
  if (!CheckedMul(rows, bits == 8 ? dim : dim / 2, &needed) || needed > q.bytes) {
    ThrowRange(info.Env(), "Uint8Array of rows * dim values (packed two per byte for 4 bits)", "weight", info[0]);
  }
  const size_t packed_bytes = ArgPackedBytes(info, rows, dim, bits);
  Output out = NewOutput(info.Env(), napi_uint8_array, packed_bytes);
  const size_t q_bytes = q.bytes;
  // The per-row qparams are the QTensor's parameters, not graph data: captured (copies the traced
  // step keeps), like every op's per-channel scales.
  const float* scale_data = static_cast<const float*>(scales.data);
  const float* zp_data = static_cast<const float*>(zero_points.data);
  const size_t qparams_len = scales.length;
  SetStep(&op,
          std::make_shared<FunctionStep>("embedding_bag_pack_quantized",
                                         [=](const void* const* in, void* y, void*) {
                                           return EmbeddingBagPackQuantized(bits, static_cast<const uint8_t*>(in[0]),
                                                                            q_bytes, rows, dim, scale_data, zp_data,
                                                                            qparams_len, static_cast<uint8_t*>(y),
                                                                            packed_bytes);
                                         }),
          {q}, out);
  return op;
}

// embeddingBagUnpack(packed: Uint8Array, rows, rowBytes, bits) -> Float32Array(rows * dim)
PreparedOp PrepareUnpack(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View packed = ArgInput(info, 0, napi_uint8_array, "packed", &op);
  const size_t rows = ArgSize(info, 1, "rows");
  const size_t row_bytes = ArgSize(info, 2, "rowBytes");
  const int bits = ArgBits(info, 3);
  EmbeddingTable table{static_cast<const uint8_t*>(packed.data), packed.bytes, rows, row_bytes, bits};
  const size_t dim = EmbeddingTableDim(table);
  size_t numel = 0;
  if (!CheckedMul(rows, dim, &numel)) ThrowRange(info.Env(), "a table that fits in memory", "rows", info[1]);
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, numel);
  const size_t table_bytes = table.bytes;
  SetStep(&op,
          std::make_shared<FunctionStep>("embedding_bag_unpack",
                                         [=](const void* const* in, void* y, void*) {
                                           return EmbeddingBagUnpack(bits, static_cast<const uint8_t*>(in[0]),
                                                                     table_bytes, rows, row_bytes,
                                                                     static_cast<float*>(y), numel);
                                         }),
          {packed}, out);
  return op;
}

// The lookup as a plan step, its checked arguments kept by value: one allocation per call, where
// a FunctionStep made a second for its std::function's capture (the arguments are ~150 bytes,
// past its small-object buffer); a sync lookup on a small bag is mostly such per-call costs.
class LookupStep final : public PlanStep {
 public:
  LookupStep(const EmbeddingBagArgs& args, size_t numel, bool weighted) : args_(args), numel_(numel), weighted_(weighted) {}
  std::string name() const override { return "embedding_bag"; }
  // inputs: indices, offsets, perSampleWeights (when weighted), in the order SetStep was given them.
  Status Run(const void* const* inputs, void* output, void*) const override {
    EmbeddingBagArgs run = args_;  // the op re-checks the values of every run
    run.indices.data = inputs[0];
    run.offsets.data = inputs[1];
    if (weighted_) run.per_sample_weights = static_cast<const float*>(inputs[2]);
    return EmbeddingBagLookup(run, static_cast<float*>(output), numel_);
  }

 private:
  const EmbeddingBagArgs args_;
  const size_t numel_;
  const bool weighted_;
};

// embeddingBagLookup(packed: Uint8Array, rows, rowBytes, bits, indices, offsets, includeLastOffset, mode,
//                    perSampleWeights: Float32Array | null, prunedWeights, compressedIndicesMapping: Int32Array | null,
//                    paddingIdx: number | null) -> Float32Array(bags * dim)
PreparedOp PrepareLookup(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  View packed = ArgTable(info, 0, &op);
  EmbeddingBagArgs args;
  args.table.data = static_cast<const uint8_t*>(packed.data);
  args.table.bytes = packed.bytes;
  args.table.rows = ArgSize(info, 1, "rows");
  args.table.row_bytes = ArgSize(info, 2, "rowBytes");
  args.table.bits = ArgBits(info, 3);
  // The step's graph inputs, in this order: indices, offsets, perSampleWeights (when given). The
  // table, the mapping and every size are the op's parameters, kept with `args`. A fixed array,
  // not a vector: no allocation per call.
  std::array<View, 3> inputs;
  size_t input_count = 2;
  args.indices = ArgIndexArray(info, 4, "indices", &op, &inputs[0]);
  args.offsets = ArgIndexArray(info, 5, "offsets", &op, &inputs[1]);
  args.include_last_offset = ArgBool(info, 6, "includeLastOffset");
  const int64_t mode = ArgInt64(info, 7, "mode");
  if (mode < 0 || mode > 2) ThrowRange(env, "mode code 0 (sum), 1 (mean) or 2 (max)", "mode", info[7]);
  args.mode = static_cast<EmbeddingBagMode>(mode);
  if (!IsAbsent(info, 8)) {
    View weights = ArgInput(info, 8, napi_float32_array, "perSampleWeights", &op);
    args.per_sample_weights = static_cast<const float*>(weights.data);
    args.per_sample_weights_len = weights.length;
    inputs[input_count++] = weights;
  }
  args.pruned_weights = ArgBool(info, 9, "prunedWeights");
  if (!IsAbsent(info, 10)) {
    View mapping = ArgInput(info, 10, napi_int32_array, "compressedIndicesMapping", &op);
    args.compressed_indices_mapping = static_cast<const int32_t*>(mapping.data);
    args.compressed_indices_mapping_len = mapping.length;
  }
  if (!IsAbsent(info, 11)) {
    args.has_padding_idx = true;
    args.padding_idx = ArgInt64(info, 11, "paddingIdx");
  }
  size_t bags = 0;
  const Status shape = EmbeddingBagOutputBags(args, &bags);
  if (!shape.ok()) throw ErrorFromStatus(env, shape);
  size_t numel = 0;
  if (!CheckedMul(bags, EmbeddingTableDim(args.table), &numel)) ThrowRange(env, "an output that fits in memory", "offsets", info[5]);
  // Every element is written (each bag zeroed, then added to) when the lookup succeeds, and a
  // failed lookup returns no output: the zero fill would be a second pass over it.
  Output out = NewUninitializedOutput(env, napi_float32_array, numel);
  SetStep(&op, std::make_shared<LookupStep>(args, numel, input_count > 2), inputs.data(), input_count, out);
  return op;
}

// embeddingBagGatherBound(packed: Uint8Array, rows, rowBytes, indices: Int32Array) -> number: the sum of
// the bytes of the indexed rows, by the plain loop bench/embedding.js times as the memory bound.
Napi::Value GatherBound(const Napi::CallbackInfo& info) {
  View packed = ArgTypedArray(info, 0, napi_uint8_array, "packed");
  const size_t rows = ArgSize(info, 1, "rows");
  const size_t row_bytes = ArgSize(info, 2, "rowBytes");
  View indices = ArgTypedArray(info, 3, napi_int32_array, "indices");
  size_t needed = 0;
  if (!CheckedMul(rows, row_bytes, &needed) || needed > packed.bytes) ThrowRange(info.Env(), "rows * rowBytes bytes", "packed", info[0]);
  const int32_t* index_data = static_cast<const int32_t*>(indices.data);
  if (!IndicesBelow(index_data, indices.length, rows)) ThrowRange(info.Env(), "indices in [0, rows)", "indices", info[3]);
  const uint64_t sum =
      EmbeddingGatherRowBytes(static_cast<const uint8_t*>(packed.data), row_bytes, index_data, indices.length);
  return Napi::Number::New(info.Env(), static_cast<double>(sum));
}

}  // namespace

void RegisterEmbeddingOps(Napi::Env env, Napi::Object exports) {
  DefineOp<PreparePrepack>(env, exports, "embeddingBagPrepack");
  DefineOp<PrepareUnpack>(env, exports, "embeddingBagUnpack");
  DefineOp<PreparePackQuantized>(env, exports, "embeddingBagPackQuantized");
  exports.Set("embeddingBagGatherBound", Napi::Function::New(env, GatherBound, "embeddingBagGatherBound"));
  DefineOp<PrepareLookup>(env, exports, "embeddingBagLookup");
  exports.Set("embeddingTable", Napi::Function::New(env, NewTable, "embeddingTable"));
}

}  // namespace addon
}  // namespace qk
