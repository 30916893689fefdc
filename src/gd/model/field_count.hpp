// field_count<T>(): the number of members of an aggregate, counted by the
// compiler (how many initialisers T{...} accepts). Tests use it to prove a
// field list (json_io's describe()) names every member.
#pragma once

#include <cstddef>
#include <utility>

namespace gd::model {

namespace detail {
struct AnyField {
  template <class T>
  operator T&() const noexcept;  // declared only: used in unevaluated requires-expressions, never called
};
template <class T, std::size_t... I>
constexpr bool initialisable_with(std::index_sequence<I...>) {
  return requires { T{(void(I), AnyField{})...}; };
}
}  // namespace detail

template <class T, std::size_t N = 0>
constexpr std::size_t field_count() {
  if constexpr (N > 128) return N;
  else if constexpr (detail::initialisable_with<T>(std::make_index_sequence<N + 1>{})) return field_count<T, N + 1>();
  else return N;
}

}  // namespace gd::model
