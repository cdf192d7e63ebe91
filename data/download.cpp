#include "data/download.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include "tensor/error.h"

namespace drift {

namespace fs = std::filesystem;

std::string data_home() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
  };
  if (std::string d = env("DRIFT_DATA"); !d.empty()) return d;
  if (std::string x = env("XDG_DATA_HOME"); !x.empty()) return x + "/drift";
  const std::string home = env("HOME");
  DRIFT_CHECK(!home.empty(), "no data folder: set DRIFT_DATA (or XDG_DATA_HOME or HOME)");
  return home + "/.local/share/drift";
}

const DataSetSource& dataset_source(const std::string& name) {
  // MD5s and sizes of the official files: MNIST (LeCun et al.; the mirror
  // torchvision uses first), Fashion-MNIST (Xiao et al. 2017, the MD5s
  // published in its README), CIFAR-10 binary version (Krizhevsky 2009, the MD5
  // on its page; 170,052,171 bytes).
  static const std::vector<DataSetSource> sources = {
      {"mnist",
       {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422},
        {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881},
        {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877},
        {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542}},
       ""},
      {"fashion-mnist",
       {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"},
       {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 0},
        {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 0},
        {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 0},
        {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 0}},
       ""},
      {"cifar10",
       {"https://www.cs.toronto.edu/~kriz/"},
       {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170052171}},
       "cifar-10-binary.tar.gz"},
  };
  for (const DataSetSource& s : sources)
    if (s.name == name) return s;
  throw Error(str("unknown data set '", name, "' (expected mnist, fashion-mnist or cifar10)"));
}

std::vector<std::string> dataset_names() { return {"mnist", "fashion-mnist", "cifar10"}; }

namespace {

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// An MNIST-layout folder with at least its training images (plain or .gz).
bool has_idx_files(const std::string& dir) {
  return is_file(dir + "/train-images-idx3-ubyte.gz") || is_file(dir + "/train-images-idx3-ubyte");
}

const char* dataset_size_text(const std::string& name) {
  if (name == "mnist") return "11 MB";
  if (name == "fashion-mnist") return "30 MB";
  return "163 MB";
}

}  // namespace

std::string find_dataset(const std::string& name) {
  const DataSetSource& src = dataset_source(name);
  const std::string home = data_home();
  const std::string dir = home + "/" + name;
  if (name == "cifar10") {
    if (is_file(dir + "/" + src.load_path)) return dir + "/" + src.load_path;
    if (is_dir(dir + "/cifar-10-batches-bin")) return dir + "/cifar-10-batches-bin";
  } else {
    if (has_idx_files(dir)) return dir;
    // Debian's dataset-fashion-mnist package.
    const std::string debian = "/usr/share/datasets/fashion-mnist";
    if (name == "fashion-mnist" && has_idx_files(debian)) return debian;
  }
  std::string msg = str("the ", name, " data set is not in '", dir, "' (the data folder: $DRIFT_DATA, else ",
                        "$XDG_DATA_HOME/drift, else ~/.local/share/drift); get it with `drift data get ", name,
                        "` (", dataset_size_text(name), ")");
  if (name == "fashion-mnist") msg += " or `apt install dataset-fashion-mnist`";
  msg += ", or give its location with --data-path";
  throw Error(msg);
}

std::string md5_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  DRIFT_CHECK(f != nullptr, "cannot open '", path, "' to compute its checksum");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  DRIFT_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) == 1, "MD5: OpenSSL initialisation failed");
  std::vector<unsigned char> buf(1 << 16);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  DRIFT_CHECK(!std::ferror(f.get()), "read error in '", path, "' while computing its checksum");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

namespace {

struct Transfer {
  FILE* file = nullptr;
  int64_t offset = 0;     // bytes already in the .part file when this attempt began
  int64_t size_hint = 0;
  std::string name;
  const DownloadProgress* progress = nullptr;
};

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  return std::fwrite(data, size, n, t->file) * size;
}

int progress_cb(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const int64_t total = dltotal > 0 ? t->offset + dltotal : t->size_hint;
  (*t->progress)(t->name, t->offset + dlnow, total);
  return 0;
}

int64_t file_size(const std::string& p) {
  std::error_code ec;
  const auto s = fs::file_size(p, ec);
  return ec ? 0 : static_cast<int64_t>(s);
}

// One attempt: appends to `part` from its current size. Returns the curl code
// and sets `http` to the response status.
CURLcode fetch_once(const std::string& url, const std::string& part, bool restart, const DownloadOptions& opt,
                    int64_t size_hint, const std::string& name, long& http) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Transfer t;
  t.offset = restart ? 0 : file_size(part);
  t.size_hint = size_hint;
  t.name = name;
  t.progress = &opt.progress;
  t.file = std::fopen(part.c_str(), restart ? "wb" : "ab");
  DRIFT_CHECK(t.file != nullptr, "cannot write '", part, "'");
  std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), &curl_easy_cleanup);
  DRIFT_CHECK(h != nullptr, "libcurl: cannot create a transfer");
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error, not a body to save
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opt.low_speed_timeout_s);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "drift-data/0.1");
  if (t.offset > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
  if (opt.progress) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  }
  const CURLcode rc = curl_easy_perform(c);
  http = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  const bool write_ok = std::fclose(t.file) == 0;
  DRIFT_CHECK(write_ok, "cannot write '", part, "' (disk full?)");
  return rc;
}

}  // namespace

void download_file(const std::string& url, const std::string& dest, const std::string& md5,
                   const DownloadOptions& opt, int64_t size_hint) {
  const std::string part = dest + ".part";
  const std::string name = fs::path(dest).filename().string();
  bool restart = false;
  std::string last_error;
  for (int attempt = 0; attempt < std::max(1, opt.attempts); ++attempt) {
    long http = 0;
    const CURLcode rc = fetch_once(url, part, restart, opt, size_hint, name, http);
    restart = false;
    if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && http == 416)) {
      // The server cannot continue the .part (no range support, or it is
      // already complete): check it as it is, else start over.
      if (rc == CURLE_HTTP_RETURNED_ERROR && md5_file(part) == md5) {
        last_error.clear();
        break;
      }
      restart = true;
      last_error = str("the server could not resume (", curl_easy_strerror(rc), ")");
      continue;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
      std::remove(part.c_str());
      throw Error(str("download of '", url, "' failed: HTTP ", http));
    }
    if (rc != CURLE_OK) {
      // A cut connection or a timeout: the next attempt resumes the .part.
      last_error = str(curl_easy_strerror(rc), " after ", file_size(part), " bytes");
      continue;
    }
    last_error.clear();
    break;
  }
  if (!last_error.empty())
    throw Error(str("download of '", url, "' failed: ", last_error, " (", opt.attempts, " attempts); '", part,
                    "' is kept: run the command again to resume"));
  const std::string got = md5_file(part);
  if (got != md5) {
    std::remove(part.c_str());
    throw Error(str("download of '", url, "': wrong checksum (MD5 ", got, ", expected ", md5,
                    "); the file was deleted"));
  }
  std::error_code ec;
  fs::rename(part, dest, ec);
  DRIFT_CHECK(!ec, "cannot rename '", part, "' to '", dest, "': ", ec.message());
}

std::string download_dataset(const DataSetSource& src, const std::string& folder, const DownloadOptions& opt) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  DRIFT_CHECK(!ec && is_dir(folder), "cannot create the data folder '", folder, "'",
              ec ? ": " + ec.message() : std::string());
  DRIFT_CHECK(!src.mirrors.empty(), "data set '", src.name, "' has no download address");
  for (const RemoteFile& f : src.files) {
    const std::string dest = folder + "/" + f.name;
    if (is_file(dest) && md5_file(dest) == f.md5) {
      if (opt.progress) opt.progress(f.name, file_size(dest), file_size(dest));
      continue;
    }
    std::string errors;
    bool ok = false;
    for (const std::string& mirror : src.mirrors) {
      try {
        download_file(mirror + f.name, dest, f.md5, opt, f.size);
        if (opt.progress) opt.progress(f.name, file_size(dest), file_size(dest));  // the final 100%
        ok = true;
        break;
      } catch (const Error& e) {
        errors += str("\n  ", e.what());
      }
    }
    DRIFT_CHECK(ok, "could not download '", f.name, "' of ", src.name, " into '", folder, "':", errors);
  }
  return src.load_path.empty() ? folder : folder + "/" + src.load_path;
}

}  // namespace drift
