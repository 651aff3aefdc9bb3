// Input for windowed-count runs and the output a plain computation expects:
// `lines` in-order events over ten keys, counted and summed per tumbling
// window of `window_ms`. Pure function; no engine code.
#pragma once

#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

namespace sluice::testing {

struct WindowedCountCase {
  std::string csv;                    // event_time_ms,key,value lines
  std::vector<std::string> expected;  // window_start,window_end,key,count,sum, sorted
};

inline WindowedCountCase tumbling_case(int lines, int64_t window_ms, unsigned seed = 99) {
  std::map<std::tuple<int64_t, std::string>, std::pair<int64_t, int64_t>> windows;
  WindowedCountCase c;
  std::mt19937 rng(seed);
  for (int i = 0; i < lines; ++i) {
    int64_t t = 1767225600000 + i;  // in order: nothing is late
    std::string key = fmt::format("k{}", rng() % 10);
    int64_t value = static_cast<int64_t>(rng() % 1000);
    c.csv += fmt::format("{},{},{}\n", t, key, value);
    auto& w = windows[{t - t % window_ms, key}];
    ++w.first;
    w.second += value;
  }
  for (const auto& [k, v] : windows) {
    c.expected.push_back(fmt::format("{},{},{},{},{}", std::get<0>(k), std::get<0>(k) + window_ms,
                                     std::get<1>(k), v.first, v.second));
  }
  std::sort(c.expected.begin(), c.expected.end());
  return c;
}

}  // namespace sluice::testing
