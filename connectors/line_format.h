// The format functions of the text sinks (file, text file, stdout):
//
//   void format(const T& value, std::string& out);
//
// appends one line to `out`, without a '\n'. The sink passes its own reused
// buffer, so formatting allocates nothing per record once it has grown.
// Each sink writer calls its own copy, on its task's thread.
#pragma once

#include <concepts>
#include <string>

namespace sluice {

template <class F, class T>
concept LineFormatter = std::copy_constructible<F> &&
    requires(F& format, const T& value, std::string& out) {
  format(value, out);
};

}  // namespace sluice
