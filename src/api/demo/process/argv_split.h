// Splits a command-line string (`--chat-args "a 'b c' \"d\""`) into an argument vector with
// shell-like quoting rules, so that a backend can be started WITHOUT a shell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace shuo::api::demo::process {

// The rules (a subset of POSIX sh word splitting; also what Python's shlex.split does for the
// usual cases). Nothing is ever expanded or run:
//   - Outside quotes, runs of whitespace (space, tab, newline, CR, VT, FF) separate words.
//     Leading/trailing whitespace and an empty string give no words.
//   - 'single quotes': every character up to the next ' is literal; no escapes at all.
//   - "double quotes": literal, except that a backslash before one of  "  \  $  `  stands for
//     that character, and a backslash before a newline removes both. A backslash before any
//     other character is kept (so "C:\dir" stays C:\dir).
//   - A backslash outside quotes makes the next character literal (including a space or a
//     quote); a backslash before a newline removes both (line continuation).
//   - Quoted and unquoted parts next to each other form one word: a"b c"'d' → `ab cd`; an empty
//     quoted part ("" or '') makes an empty word.
//   - $VAR, ${...}, $(...), `...`, ~, * ? [ ] and ; | & < > ( ) are ordinary characters: no
//     variable, tilde or glob expansion, no command substitution, no redirection or pipes.
// Errors (kBadField, where = `field`): an unterminated quote (naming the 0-based byte position
// of the opening quote), a backslash at the very end, a NUL byte (naming its position).
Result<std::vector<std::string>> argv_split(std::string_view line, std::string_view field = "args");

}  // namespace shuo::api::demo::process
