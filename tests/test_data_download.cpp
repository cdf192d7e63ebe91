// drift data get: downloads from a loopback HTTP server that this test runs
// (127.0.0.1, an ephemeral port) serving bytes the test made: a good
// download, a connection cut mid-file (resumed with a range request), a .part
// left by an earlier run, a wrong checksum, a missing file on one mirror;
// the data folder's environment variables and the "how to get it" message.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "data/download.h"
#include "data/idx.h"
#include "tensor/error.h"

namespace fs = std::filesystem;
using namespace drift;

namespace {

// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 for GET with
// optional "Range: bytes=N-". Files in `cut_once` are cut after half their
// bytes the first time they are asked for (headers promise the whole file).
class LoopbackServer {
 public:
  std::map<std::string, std::string> files;  // "/name" -> body
  std::set<std::string> cut_once;

  LoopbackServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  void start() { thread_ = std::thread([this] { serve(); }); }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int port() const { return port_; }
  // (path, range start or -1) of every request so far.
  std::vector<std::pair<std::string, long>> requests() {
    std::lock_guard<std::mutex> g(mu_);
    return log_;
  }

 private:
  void send_all(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::istringstream in(req);
      std::string method, path;
      in >> method >> path;
      long start = -1;
      const size_t r = req.find("Range: bytes=");
      if (r != std::string::npos) start = std::atol(req.c_str() + r + 13);
      {
        std::lock_guard<std::mutex> g(mu_);
        log_.push_back({path, start});
      }
      auto it = files.find(path);
      if (it == files.end()) {
        send_all(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      } else {
        const std::string& body = it->second;
        const size_t from = start < 0 ? 0 : static_cast<size_t>(start);
        if (from >= body.size() && start >= 0) {
          send_all(c, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        } else {
          std::string head = start < 0 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 206 Partial Content\r\n";
          if (start >= 0)
            head += "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(body.size() - 1) + "/" +
                    std::to_string(body.size()) + "\r\n";
          head += "Content-Length: " + std::to_string(body.size() - from) + "\r\nConnection: close\r\n\r\n";
          send_all(c, head);
          size_t end = body.size();
          if (cut_once.erase(path)) end = from + (body.size() - from) / 2;  // then the connection drops
          send_all(c, body.substr(from, end - from));
        }
      }
      ::shutdown(c, SHUT_WR);
      ::close(c);
    }
  }
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<std::string, long>> log_;
};

std::string pseudo_random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    s[i] = static_cast<char>(seed >> 24);
  }
  return s;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
}

// MD5 of bytes, through a file (md5_file is the function under test; its
// value for known bytes is checked in Md5OfKnownBytes).
std::string md5_of(const std::string& bytes, const fs::path& scratch) {
  write_file(scratch, bytes);
  std::string m = md5_file(scratch.string());
  fs::remove(scratch);
  return m;
}

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("drift_download_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    ASSERT_GT(server.port(), 0) << "could not listen on 127.0.0.1";
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
  LoopbackServer server;
};

}  // namespace

TEST(DataFolder, Md5OfKnownBytes) {
  const fs::path p = fs::temp_directory_path() / ("drift_md5_" + std::to_string(::getpid()));
  write_file(p, "abc");
  EXPECT_EQ(md5_file(p.string()), "900150983cd24fb0d6963f7d28e17f72");  // RFC 1321 test suite
  fs::remove(p);
  EXPECT_THROW(md5_file(p.string()), Error);
}

TEST(DataFolder, EnvironmentVariablesChooseTheFolder) {
  const char* saved[3] = {std::getenv("DRIFT_DATA"), std::getenv("XDG_DATA_HOME"), std::getenv("HOME")};
  const std::string keep[3] = {saved[0] ? saved[0] : "", saved[1] ? saved[1] : "", saved[2] ? saved[2] : ""};
  ::setenv("HOME", "/home/u", 1);
  ::unsetenv("DRIFT_DATA");
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(data_home(), "/home/u/.local/share/drift");
  ::setenv("XDG_DATA_HOME", "/xdg", 1);
  EXPECT_EQ(data_home(), "/xdg/drift");
  ::setenv("DRIFT_DATA", "/d", 1);
  EXPECT_EQ(data_home(), "/d");
  const char* names[3] = {"DRIFT_DATA", "XDG_DATA_HOME", "HOME"};
  for (int i = 0; i < 3; ++i) {
    if (saved[i]) ::setenv(names[i], keep[i].c_str(), 1);
    else ::unsetenv(names[i]);
  }
}

TEST(DataFolder, MissingDataSetSaysHowToGetIt) {
  const fs::path home = fs::temp_directory_path() / ("drift_home_" + std::to_string(::getpid()));
  fs::remove_all(home);
  fs::create_directories(home / "mnist");
  const char* saved = std::getenv("DRIFT_DATA");
  const std::string keep = saved ? saved : "";
  ::setenv("DRIFT_DATA", home.c_str(), 1);
  try {
    find_dataset("mnist");
    ADD_FAILURE() << "an empty data folder was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("drift data get mnist"), std::string::npos) << e.what();
  }
  write_file(home / "mnist" / "train-images-idx3-ubyte.gz", "x");
  EXPECT_EQ(find_dataset("mnist"), (home / "mnist").string());
  try {
    find_dataset("cifar10");
    ADD_FAILURE() << "a missing CIFAR-10 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("drift data get cifar10"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dataset_source("imagenet"), Error);
  if (saved) ::setenv("DRIFT_DATA", keep.c_str(), 1);
  else ::unsetenv("DRIFT_DATA");
  fs::remove_all(home);
}

TEST_F(Download, GetsEveryFileResumesACutConnectionAndReportsProgress) {
  const std::string a = pseudo_random_bytes(300000, 1), b = pseudo_random_bytes(5000, 2);
  server.files["/a.bin"] = a;
  server.files["/b.bin"] = b;
  server.cut_once.insert("/a.bin");
  server.start();
  DataSetSource src{"test", {server.base()}, {{"a.bin", md5_of(a, dir / "s"), 300000}, {"b.bin", md5_of(b, dir / "s"), 0}}, ""};
  std::map<std::string, int64_t> last;
  DownloadOptions opt;
  opt.progress = [&](const std::string& f, int64_t done, int64_t total) {
    EXPECT_LE(done, total) << f;
    last[f] = done;
  };
  EXPECT_EQ(download_dataset(src, (dir / "out").string(), opt), (dir / "out").string());
  EXPECT_EQ(read_all(dir / "out" / "a.bin"), a);
  EXPECT_EQ(read_all(dir / "out" / "b.bin"), b);
  EXPECT_FALSE(fs::exists(dir / "out" / "a.bin.part"));
  EXPECT_EQ(last["a.bin"], 300000);
  // a.bin: asked for whole, cut at 150000 bytes, then asked for from there on.
  std::vector<long> starts;
  for (auto& [path, start] : server.requests())
    if (path == "/a.bin") starts.push_back(start);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], -1);
  EXPECT_EQ(starts[1], 150000);
  // A second run finds both files with the right checksums and asks for nothing.
  const size_t before = server.requests().size();
  download_dataset(src, (dir / "out").string());
  EXPECT_EQ(server.requests().size(), before);
}

TEST_F(Download, ContinuesAPartLeftByAnEarlierRun) {
  const std::string a = pseudo_random_bytes(100000, 3);
  server.files["/a.bin"] = a;
  server.start();
  fs::create_directories(dir / "out");
  write_file(dir / "out" / "a.bin.part", a.substr(0, 40000));
  download_file(server.base() + "a.bin", (dir / "out" / "a.bin").string(), md5_of(a, dir / "s"));
  EXPECT_EQ(read_all(dir / "out" / "a.bin"), a);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].second, 40000);
}

TEST_F(Download, WrongChecksumIsAnErrorAndLeavesNothing) {
  server.files["/a.bin"] = pseudo_random_bytes(20000, 4);
  server.start();
  const std::string dest = (dir / "a.bin").string();
  try {
    download_file(server.base() + "a.bin", dest, "00000000000000000000000000000000");
    ADD_FAILURE() << "a file with the wrong checksum was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("wrong checksum"), std::string::npos) << msg;
    EXPECT_NE(msg.find("a.bin"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST_F(Download, TriesTheNextMirrorAndNamesEveryFailure) {
  const std::string a = pseudo_random_bytes(1000, 5);
  server.files["/good/a.bin"] = a;
  server.start();
  DataSetSource src{"test", {server.base() + "bad/", server.base() + "good/"}, {{"a.bin", md5_of(a, dir / "s"), 0}}, ""};
  download_dataset(src, (dir / "out").string());
  EXPECT_EQ(read_all(dir / "out" / "a.bin"), a);
  src.mirrors = {server.base() + "bad/"};
  fs::remove_all(dir / "out");
  try {
    download_dataset(src, (dir / "out").string());
    ADD_FAILURE() << "a missing file was reported as downloaded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("HTTP 404"), std::string::npos) << msg;
    EXPECT_NE(msg.find(server.base() + "bad/a.bin"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "a.bin"));
}

TEST_F(Download, DownloadedIdxFilesLoad) {
  // A 2-image MNIST-layout set, served and then read by the MNIST loader.
  std::string images = std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02", 16) + std::string(8, '\x7f');
  std::string labels = std::string("\0\0\x08\x01\0\0\0\x02", 8) + std::string("\x03\x07", 2);
  server.files["/train-images-idx3-ubyte"] = images;
  server.files["/train-labels-idx1-ubyte"] = labels;
  server.start();
  DataSetSource src{"tiny",
                    {server.base()},
                    {{"train-images-idx3-ubyte", md5_of(images, dir / "s"), 0},
                     {"train-labels-idx1-ubyte", md5_of(labels, dir / "s"), 0}},
                    ""};
  const std::string path = download_dataset(src, (dir / "tiny").string());
  Dataset d = load_mnist(path, Split::Train);
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.labels[1], 7);
}
