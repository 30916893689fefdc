#include "state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace gd::sim {
namespace {

constexpr const char* k_persistence = "persistence";

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int get() const { return m_fd; }
  // Closes now; false (errno set) when close fails.
  bool close() {
    int fd = m_fd;
    m_fd = -1;
    return ::close(fd) == 0;
  }

 private:
  int m_fd;
};

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool lock_exclusive(int fd) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// Writes `text` to a temporary file beside `path`, then renames it over `path`.
// No fsync: rename keeps readers from seeing half a file, and a simulated
// node's state need not survive a power cut (every churned process writes it).
Result<bool> replace_file(const std::filesystem::path& path, const std::string& text) {
  std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return make_error(errno_text("cannot create " + tmp));
  if (!write_all(fd.get(), text) || !fd.close()) {
    Error error = make_error(errno_text("cannot write " + tmp));
    ::unlink(tmp.c_str());
    return error;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error error = make_error(errno_text("cannot rename " + tmp));
    ::unlink(tmp.c_str());
    return error;
  }
  return true;
}

}  // namespace

Result<State> State::from_json(nlohmann::json doc) {
  if (!doc.is_object()) return make_error("expected a JSON object at the top level");
  auto it = doc.find(k_persistence);
  if (it != doc.end()) {
    if (!it->is_object()) return make_error("persistence: expected an object");
    for (auto& [uuid, value] : it->items()) {
      if (!value.is_boolean()) return make_error("persistence." + uuid + ": expected true or false");
    }
  }
  State state;
  state.m_doc = std::move(doc);
  return state;
}

std::optional<bool> State::persistence(std::string_view uuid) const {
  auto modes = m_doc.find(k_persistence);
  if (modes == m_doc.end()) return std::nullopt;
  auto mode = modes->find(uuid);
  if (mode == modes->end()) return std::nullopt;
  return mode->get<bool>();
}

void State::set_persistence(std::string_view uuid, bool enabled) { m_doc[k_persistence][std::string(uuid)] = enabled; }

Result<State> StateFile::load() const {
  std::ifstream in(m_path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return State();
    return make_error(errno_text("cannot open for reading"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find_first_not_of(" \t\r\n") == std::string::npos) return State();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("not valid JSON");
  return State::from_json(std::move(doc));
}

Result<State> StateFile::update(const std::function<void(State&)>& change) const {
  std::string lock_path = m_path.string() + ".lock";
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.get() < 0) return make_error(errno_text("cannot open lock file " + lock_path));
  if (!lock_exclusive(lock.get())) return make_error(errno_text("cannot lock " + lock_path));
  Result<State> state = load();
  if (!state) return state;
  change(*state);
  Result<bool> written = replace_file(m_path, state->json().dump(2) + "\n");
  if (!written) return written.error();
  return state;
}

}  // namespace gd::sim
