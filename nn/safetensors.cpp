#include "nn/safetensors.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "nn/json_bounded.h"

namespace drift::nn {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::ordered_json;  // keeps the tensors in file order

const char* st_dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::BFloat16: return "BF16";  // as PyTorch writes torch.bfloat16
    case DType::Float16: return "F16";
  }
  return "?";
}

bool parse_st_dtype(const std::string& s, DType& out) {
  if (s == "F32") out = DType::Float32;
  else if (s == "F64") out = DType::Float64;
  else if (s == "I64") out = DType::Int64;
  else if (s == "BF16") out = DType::BFloat16;
  else if (s == "F16") out = DType::Float16;
  else return false;
  return true;
}

// The reference implementation refuses headers over 100 MB; a header of
// nested arrays deeper than a few levels is never a real tensor file.
const JsonLimits kHeaderLimits{size_t{100} << 20, 16};

// Closes a FILE* on every path out of a function.
struct FileCloser {
  FILE* f;
  ~FileCloser() {
    if (f) std::fclose(f);
  }
};

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  // Host copies, contiguous, and the header describing them.
  std::vector<Tensor> host;
  json header = json::object();
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DRIFT_CHECK(!name.empty() && name != "__metadata__", "save_safetensors(", path, "): invalid tensor name '",
                name, "'");
    DRIFT_CHECK(seen.insert(name).second, "save_safetensors(", path, "): tensor '", name, "' appears twice");
    DRIFT_CHECK(t.defined(), "save_safetensors(", path, "): tensor '", name, "' is undefined");
    Tensor h = ops::contiguous(t.device() == Device::CPU ? t : ops::to(t, Device::CPU));
    uint64_t nbytes = static_cast<uint64_t>(h.numel()) * h.element_size();
    header[name] = {{"dtype", st_dtype_name(h.dtype())},
                    {"shape", h.shape()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    host.push_back(h);
  }
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::string head = header.dump();
  head.append((8 - head.size() % 8) % 8, ' ');  // pad the header to 8-byte alignment

  // Write to a temporary file next to the target, then rename over it.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    FILE* f = std::fopen(tmp.c_str(), "wb");
    DRIFT_CHECK(f != nullptr, "save_safetensors: cannot open '", tmp, "' for writing: ", std::strerror(errno));
    FileCloser closer{f};
    uint8_t len[8];
    uint64_t n = head.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));  // little-endian u64
    bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(head.data(), 1, head.size(), f) == head.size();
    for (const Tensor& h : host) {
      if (!ok) break;
      size_t nbytes = static_cast<size_t>(h.numel()) * h.element_size();
      ok = nbytes == 0 || std::fwrite(h.data_ptr(), 1, nbytes, f) == nbytes;
    }
    ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    closer.f = nullptr;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      std::remove(tmp.c_str());
      throw Error(str("save_safetensors: writing '", tmp, "' failed: ", std::strerror(errno)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw Error(str("save_safetensors: cannot rename '", tmp, "' to '", path, "': ", std::strerror(err)));
  }
}

namespace {

// Opens `path` and reads its length field and JSON header (checked: sizes,
// bounded JSON, an object). data_size: the bytes after the header.
json read_header(const std::string& path, FILE* f, uint64_t& data_size) {
  std::fseek(f, 0, SEEK_END);
  long file_size_l = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  DRIFT_CHECK(file_size_l >= 0, "load_safetensors: cannot get the size of '", path, "'");
  const uint64_t file_size = static_cast<uint64_t>(file_size_l);
  DRIFT_CHECK(file_size >= 8, "load_safetensors: '", path, "' is truncated: ", file_size,
              " bytes, expected at least 8 (the header length)");
  uint8_t len[8];
  DRIFT_CHECK(std::fread(len, 1, 8, f) == 8, "load_safetensors: cannot read '", path, "'");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len[i]) << (8 * i);
  DRIFT_CHECK(header_len <= kHeaderLimits.max_bytes, "load_safetensors: '", path, "' is corrupt: the header length is ",
              header_len, " bytes, more than the limit of ", kHeaderLimits.max_bytes);
  DRIFT_CHECK(header_len <= file_size - 8, "load_safetensors: '", path, "' is truncated or corrupt: the header says ",
              header_len, " header bytes, but only ", file_size - 8, " bytes follow the length field");
  std::string head(header_len, '\0');
  DRIFT_CHECK(std::fread(head.data(), 1, header_len, f) == header_len, "load_safetensors: cannot read the header of '",
              path, "'");
  data_size = file_size - 8 - header_len;

  // Bounded parse: the header is untrusted, and nested values are later
  // dumped into messages (recursively).
  json header = parse_json_bounded<json>(head, str("load_safetensors: '", path, "' header"), kHeaderLimits);
  DRIFT_CHECK(header.is_object(), "load_safetensors: '", path, "': expected a JSON object header, found ",
              header.type_name());
  return header;
}

// The "__metadata__" object: strings only.
Metadata read_metadata(const std::string& path, const json& v) {
  DRIFT_CHECK(v.is_object(), "load_safetensors: '", path, "': __metadata__ must be an object of strings, found ",
              v.type_name());
  Metadata out;
  for (auto m = v.begin(); m != v.end(); ++m) {
    DRIFT_CHECK(m.value().is_string(), "load_safetensors: '", path, "': __metadata__ entry '", m.key(),
                "' must be a string, found ", m.value().type_name());
    out[m.key()] = m.value().get<std::string>();
  }
  return out;
}

}  // namespace

Metadata load_safetensors_metadata(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  DRIFT_CHECK(f != nullptr, "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
  FileCloser closer{f};
  uint64_t data_size = 0;
  const json header = read_header(path, f, data_size);
  auto it = header.find("__metadata__");
  return it == header.end() ? Metadata{} : read_metadata(path, *it);
}

SafetensorsContents load_safetensors(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  DRIFT_CHECK(f != nullptr, "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
  FileCloser closer{f};
  uint64_t data_size = 0;
  const json header = read_header(path, f, data_size);

  // 1. Validate every entry.
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  SafetensorsContents out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      out.metadata = read_metadata(path, v);
      continue;
    }
    const std::string where = str("load_safetensors: '", path, "', tensor '", name, "': ");
    DRIFT_CHECK(!name.empty(), where, "a tensor needs a non-empty name");  // as save_safetensors requires
    DRIFT_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
                where, "expected an object with dtype, shape and data_offsets, found ", json_excerpt(v));
    Entry e;
    e.name = name;
    DRIFT_CHECK(v["dtype"].is_string(), where, "dtype must be a string, found ", json_excerpt(v["dtype"]));
    std::string dt = v["dtype"].get<std::string>();
    DRIFT_CHECK(parse_st_dtype(dt, e.dtype), where, "unsupported dtype '", dt,
                "' (drift reads F32, F64, I64, BF16, F16)");
    DRIFT_CHECK(v["shape"].is_array(), where, "shape must be an array, found ", json_excerpt(v["shape"]));
    for (const auto& d : v["shape"]) {
      DRIFT_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, where,
                  "shape entries must be non-negative integers, found ", json_excerpt(v["shape"]));
      e.shape.push_back(d.get<int64_t>());
    }
    const json& off = v["data_offsets"];
    DRIFT_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                where, "data_offsets must be two non-negative integers, found ", json_excerpt(off));
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    DRIFT_CHECK(e.begin <= e.end, where, "data_offsets [", e.begin, ", ", e.end, "] are reversed");
    // numel and bytes are checked for overflow: a [2^62] F32 tensor must not
    // wrap around to "0 bytes".
    int64_t numel = 0;
    try {
      numel = shape_numel(e.shape);
    } catch (const Error& err) {
      throw Error(where + err.what());
    }
    DRIFT_CHECK(static_cast<uint64_t>(numel) <= UINT64_MAX / dtype_size(e.dtype), where, "shape ",
                shape_str(e.shape), " x ", dt, " needs more than 2^64 bytes");
    uint64_t expected = static_cast<uint64_t>(numel) * dtype_size(e.dtype);
    DRIFT_CHECK(e.end - e.begin == expected, where, "shape ", shape_str(e.shape), " x ", dt, " needs ", expected,
                " bytes, but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
    DRIFT_CHECK(e.end <= data_size, where, "data_offsets end at byte ", e.end, " but the file holds only ", data_size,
                " data bytes (truncated file?)");
    entries.push_back(std::move(e));
  }

  // 2. Read the data block once and build the tensors.
  std::vector<char> data(data_size);
  DRIFT_CHECK(data_size == 0 || std::fread(data.data(), 1, data_size, f) == data_size,
              "load_safetensors: cannot read the data of '", path, "'");
  for (const Entry& e : entries)
    out.tensors.emplace_back(e.name, ops::from_buffer(data.data() + e.begin, e.shape, e.dtype, Device::CPU));
  return out;
}

void save_module(const Module& module, const std::string& path, const Metadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

void load_module(Module& module, const std::string& path, bool strict) {
  SafetensorsContents c = load_safetensors(path);
  try {
    module.load_state_dict(c.tensors, strict);
  } catch (const Error& e) {
    throw Error(str("loading '", path, "' into the model: ", e.what()));
  }
}

}  // namespace drift::nn
