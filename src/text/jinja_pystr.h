// Python str algorithms on UTF-8 text for the chat-template interpreter: code-point length and
// slicing, isspace-aware strip/split, case mapping, find/replace. Invalid UTF-8 bytes count as
// one character each, so nothing here can fail on hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shuo::text::jinja {

// Decodes the character at s[i] (i < s.size()) into *cp; returns its byte length (>= 1).
size_t utf8_decode(std::string_view s, size_t i, uint32_t* cp);
void utf8_append(std::string& out, uint32_t cp);

// Python str.isspace() for one code point.
bool py_isspace(uint32_t cp);

// Number of code points (Python len()).
size_t py_len(std::string_view s);
// Byte offset of each code point, plus s.size() at the end (size py_len(s) + 1).
std::vector<size_t> cp_offsets(std::string_view s);

// str.strip/lstrip/rstrip: whitespace when chars is nullopt, else any code point in *chars.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right);
// str.split(sep, maxsplit) / rsplit; sep nullopt splits on whitespace runs. sep must not be "".
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);

// Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic basic letters.
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);  // first upper, rest lower
std::string py_title(std::string_view s);       // str.title(): words = runs of letters
std::string py_swapcase(std::string_view s);
bool py_is_alpha_cp(uint32_t cp);

// str.find in code points (-1 when absent); start/end already clamped byte offsets.
int64_t py_find(std::string_view s, std::string_view sub, bool reverse);
int64_t py_count(std::string_view s, std::string_view sub);
// str.replace(old, new, count); count < 0 replaces all. Returns nullopt past max_bytes.
std::optional<std::string> py_replace(std::string_view s, std::string_view old,
                                      std::string_view repl, int64_t count, size_t max_bytes);

}  // namespace shuo::text::jinja
