// Errors as values: Result<T> holds either a T or an Error whose message names
// what failed and where (file, field, line).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace gd {

struct Error {
  std::string message;
};

template <class T>
class Result {
 public:
  Result(T value) : m_v(std::move(value)) {}         // NOLINT: implicit by design
  Result(Error error) : m_v(std::move(error)) {}     // NOLINT: implicit by design

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(m_v); }
  const T& value() const { return std::get<0>(m_v); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(m_v); }
  T value_or(T fallback) const { return ok() ? value() : fallback; }

 private:
  std::variant<T, Error> m_v;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

// A Result with no value: success, or an Error.
using Status = Result<std::monostate>;
inline Status ok_status() { return std::monostate{}; }

}  // namespace gd
