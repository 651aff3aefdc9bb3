#include "runtime/core/codec_signature.h"

namespace sluice {
namespace {

// The top-level, comma-separated parts of `list` (brackets nest).
std::vector<std::string_view> top_level_parts(std::string_view list) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    char c = list[i];
    if (c == '(' || c == '[' || c == '{' || c == '<') ++depth;
    if (c == ')' || c == ']' || c == '}' || c == '>') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(list.substr(start, i - start));
      start = i + 1;
    }
  }
  if (!list.empty()) parts.push_back(list.substr(start));
  return parts;
}

// The fields of struct signature "S(...)", or nullopt for another shape.
std::optional<std::vector<std::string_view>> struct_fields(std::string_view signature) {
  if (signature.size() < 3 || signature.substr(0, 2) != "S(" || signature.back() != ')') {
    return std::nullopt;
  }
  return top_level_parts(signature.substr(2, signature.size() - 3));
}

}  // namespace

std::optional<size_t> leading_fields_of(std::string_view stored, std::string_view current) {
  auto old_fields = struct_fields(stored);
  auto new_fields = struct_fields(current);
  if (!old_fields || !new_fields || old_fields->empty() ||
      old_fields->size() >= new_fields->size()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < old_fields->size(); ++i) {
    if ((*old_fields)[i] != (*new_fields)[i]) return std::nullopt;
  }
  return old_fields->size();
}

}  // namespace sluice
