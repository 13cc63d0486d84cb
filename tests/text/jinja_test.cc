// The chat-template language, feature by feature: each table case's expected text is what
// Jinja2 3.1 renders (trim_blocks, lstrip_blocks, loopcontrols, tojson as transformers defines
// it). Then undefined values, errors, limits and the built-in formats.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "text/chat_template.h"

namespace shuo::text {
namespace {

using Json = nlohmann::ordered_json;

const char* kVars = R"({"n": 7, "f": 2.5, "s": "Hello World", "l": [3, 1, 2],
  "d": {"z": 1, "a": [1, "x"]}, "nul": null,
  "users": [{"name": "b", "age": 3}, {"name": "A", "age": 1}]})";

Result<std::string> render(std::string_view source, const TemplateLimits& limits = {}) {
  SHUO_ASSIGN(ChatTemplate t, ChatTemplate::parse(source));
  ChatTemplateInputs in;
  in.extra = Json::parse(kVars);
  return t.render(in, limits);
}

struct LangCase {
  const char* name;
  const char* source;
  const char* expected;
};

const LangCase kLangCases[] = {
    {"if_elif_else",
     "{% for n in [1, 5, 9] %}{% if n > 7 %}big{% elif n > 3 %}mid{% else %}small{% endif %} {% endfor %}",
     "small mid big "},
    {"loop_vars",
     "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
     "013TrueFalse3;122FalseFalse3;231FalseTrue3;"},
    {"loop_prev_next_cycle",
     "{% for x in l %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{{ loop.cycle('a', 'b') }} {% endfor %}",
     "<3>1a 3<1>2b 1<2>a "},
    {"for_else",
     "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}",
     "empty"},
    {"for_filter",
     "{% for x in l if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}",
     "3/2 2/2 "},
    {"for_unpack",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}",
     "z=1;a=[1, 'x'];37"},
    {"for_dict_keys",
     "{% for k in d %}{{ k }}{% endfor %}",
     "za"},
    {"break_continue",
     "{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "0246"},
    {"set_scoping",
     "{% set x = 'outer' %}{% for i in [1] %}{% set x = 'inner' %}{{ x }} {% endfor %}{{ x }}{% if true %}{% set x = 'if' %}{% endif %} {{ x }}",
     "inner outer if"},
    {"namespace",
     "{% set ns = namespace(total=0, seen=false) %}{% for x in l %}{% set ns.total = ns.total + x %}{% set ns.seen = true %}{% endfor %}{{ ns.total }} {{ ns.seen }}",
     "6 True"},
    {"set_tuple_and_block",
     "{% set a, b = 1, 'two' %}{{ a }}{{ b }} {% set blk %}[{{ n }}]{% endset %}{{ blk }} {% set up | upper %}shout{% endset %}{{ up }}",
     "1two [7] SHOUT"},
    {"macro",
     "{% macro tag(name, attr='x', close=true) %}<{{ name }} {{ attr }}>{% if close %}</{{ name }}>{% endif %}{% endmacro %}{{ tag('a') }}{{ tag('b', 'y', false) }}{{ tag(name='c', close=false) }}",
     "<a x></a><b y><c x>"},
    {"macro_recursive",
     "{% macro count(k) %}{{ k }}{% if k > 0 %},{{ count(k - 1) }}{% endif %}{% endmacro %}{{ count(3) }}",
     "3,2,1,0"},
    {"call_block",
     "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('t') %}body {{ n }}{% endcall %}",
     "[t: body 7]"},
    {"filter_block_with_raw",
     "{% filter upper %}up {{ s }}{% endfilter %} {% raw %}{{ kept }}{% endraw %} {% with q = 2 %}{{ q * n }}{% endwith %}",
     "UP HELLO WORLD {{ kept }} 14"},
    {"comments",
     "a{# gone #}b {#- trim -#} c",
     "abc"},
    {"print_python_style",
     "{{ none }} {{ true }} {{ false }} {{ 1.0 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ [1, 'a', none, true] }} {{ {'k': 'v', 'n': [1.5]} }} {{ (1,) }} {{ (1, 'x') }} {{ \"it's\" }}",
     "None True False 1.0 1e+16 1.5e-07 0.30000000000000004 2.5 [1, 'a', None, True] {'k': 'v', 'n': [1.5]} (1,) (1, 'x') it's"},
    {"slicing",
     "{{ s[::-1] }}|{{ s[1:] }}|{{ s[:5] }}|{{ s[-5:] }}|{{ l[1:] }}|{{ l[::-1] }}|{{ '你好世界'[1:3] }}|{{ '你好'[-1] }}",
     "dlroW olleH|ello World|Hello|World|[1, 2]|[2, 1, 3]|好世|好"},
    {"membership",
     "{{ 'World' in s }} {{ 'x' not in s }} {{ 2 in l }} {{ 'z' in d }} {{ 'q' in d }} {{ 'a' in undefined_var }}",
     "True True True True False False"},
    {"and_or_operands",
     "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] or nul }} {{ nul and 1 }} {{ not 0 }} {{ 1 and [] or 'fallback' }}",
     "x b None None True fallback"},
    {"comparisons",
     "{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 < n < 10 }} {{ 3 > 2 > 5 }} {{ nul == none }} {{ undefined_var == undefined_other }}",
     "True True True True True False True True"},
    {"arithmetic",
     "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2 * 3 }} {{ -2 ** 2 }} {{ n * f }} {{ true + true }}",
     "3 -4 1 2 3.0 0.5 1024 0.5 7 4 17.5 2"},
    {"string_ops",
     "{{ 'a' ~ 1 ~ none ~ true }} {{ 'x' + 'y' }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ '%s=%d' % ('k', 5) }} {{ '%.2f|%5s|%-3d|' % (3.14159, 'r', 7) }} {{ '{} and {}'.format(1, 'b') }} {{ '{x}-{0}'.format('p', x='k') }}",
     "a1NoneTrue xy ababab [1, 2] k=5 3.14|    r|7  | 1 and b k-p"},
    {"conditional_expr",
     "{{ 'yes' if n > 5 else 'no' }} [{{ 'shown' if false }}] {{ ('a' if false) is defined }}",
     "yes [] False"},
    {"tests",
     "{{ undefined_var is defined }} {{ nul is none }} {{ s is string }} {{ n is number }} {{ true is integer }} {{ f is float }} {{ d is mapping }} {{ s is iterable }} {{ d is sequence }} {{ true is boolean }} {{ n is odd }} {{ 9 is divisibleby 3 }} {{ n is eq 7 }} {{ n is ne 7 }} {{ n is lt 8 }} {{ n is gt 8 }} {{ 2 is in l }} {{ n is not none }} {{ 1 is true }}",
     "False True True True False True True True True True True True True False True False True True False"},
    {"str_methods",
     "{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ s.startswith('He') }}|{{ s.endswith(('x', 'd')) }}|{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ s.replace('o', '0') }}|{{ s.upper() }}|{{ s.lower() }}|{{ 'hello wORLD'.title() }}|{{ 'hELLO'.capitalize() }}|{{ s.find('o') }}|{{ s.find('z') }}",
     "a b|axx|xxa|True|True|['Hello', 'World']|['a', 'b', '', 'c']|['a', 'b c']|Hell0 W0rld|HELLO WORLD|hello world|Hello World|Hello|4|-1"},
    {"dict_methods",
     "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('z') }} {{ d.get('q') }} {{ d.get('q', 5) }} {{ d.a[1] }} {{ d['a'].0 }}",
     "['z', 'a'] [1, [1, 'x']] [('z', 1), ('a', [1, 'x'])] 1 None 5 x 1"},
    {"filters_text",
     "{{ '  pad  '|trim }}|{{ 'xhix'|trim('x') }}|{{ s|length }}|{{ '你好'|length }}|{{ s|upper }}|{{ s|lower }}|{{ 'hello world'|capitalize }}|{{ 'hello-world (foo)'|title }}|{{ s|replace('l', 'L', 2) }}|{{ 'a b  c'|wordcount }}|{{ 'x\\ny\\n\\nz'|indent(2) }}|{{ 'x\\ny'|indent(2, true) }}|{{ 'a & <b>'|e }}|{{ s|truncate(9) }}|{{ 'ab'|center(6) }}|",
     "pad|hi|11|2|HELLO WORLD|hello world|Hello world|Hello-World (Foo)|HeLLo World|3|x\n  y\n\n  z|  x\n  y|a &amp; &lt;b&gt;|Hello World|  ab  |"},
    {"filters_lists",
     "{{ l|first }} {{ l|last }} {{ l|join(', ') }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ l|reverse|list }} {{ [1, 2, 1, 3]|unique|list }} {{ ['b', 'A', 'a']|unique|list }} {{ l|sum }} {{ l|max }} {{ l|min }} {{ l|count }} {{ 'ab'|list }} {{ l|batch(2)|list }} {{ d|dictsort }} {{ d|items|list }}",
     "3 2 3, 1, 2 [1, 2, 3] [3, 2, 1] [2, 1, 3] [1, 2, 3] ['b', 'A'] 6 3 1 3 ['a', 'b'] [[3, 1], [2]] [('a', [1, 'x']), ('z', 1)] [('z', 1), ('a', [1, 'x'])]"},
    {"filters_select_map",
     "{{ users|map(attribute='name')|join(',') }} {{ users|selectattr('age', 'gt', 1)|map(attribute='name')|list }} {{ users|rejectattr('age', 'equalto', 1)|list|length }} {{ users|sort(attribute='name')|map(attribute='name')|join }} {{ l|select('odd')|list }} {{ l|reject('odd')|list }} {{ ['a', 'b']|map('upper')|list }} {{ users|map(attribute='x', default='?')|list }} {{ users|sum(attribute='age') }}",
     "b,A ['b'] 1 Ab [3, 1] [2] ['A', 'B'] ['?', '?'] 4"},
    {"filters_convert",
     "{{ x|default('dflt') }} {{ nul|default('dflt') }} {{ ''|default('dflt', true) }} {{ ''|d('d2', boolean=true) }} {{ '3'|int + 1 }} {{ '3.9'|int }} {{ 'x'|int(7) }} {{ '3.5'|float }} {{ n|float }} {{ 3|string ~ '!' }} {{ -5|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 2.1|round(0, 'ceil') }} {{ [1]|list }} {{ 'x'|safe }}",
     "dflt None dflt d2 4 3 7 3.5 7.0 3! 5 2.57 2.0 3.0 [1] x"},
    {"tojson",
     "{{ d|tojson }} {{ {'b': 1, 'a': [1.5, none, true, 'é\"\\n']}|tojson }} {{ {'k': [1, {}], 'e': []}|tojson(indent=2) }} {{ 'é😊'|tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ {'a': 1, 'b': 2}|tojson(separators=(',', ':')) }}",
     "{\"z\": 1, \"a\": [1, \"x\"]} {\"b\": 1, \"a\": [1.5, null, true, \"é\\\"\\n\"]} {\n  \"k\": [\n    1,\n    {}\n  ],\n  \"e\": []\n} \"\\u00e9\\ud83d\\ude0a\" {\"a\": 2, \"b\": 1} {\"a\":1,\"b\":2}"},
    {"markup_escapes_what_it_is_added_to",
     "{{ \"f('\"|safe + s + \"', <b>)\\n\"|safe + d|tojson }} {{ ('<i>'|safe) ~ '<' }} {{ ('%s'|safe) % '<b>' }} {{ '<b>'|e }} {{ ['x'|safe] }} {{ ('a'|safe)|upper + '&' }} {{ '<b>'|e is escaped }}",
     "f('Hello World', <b>)\n{&#34;z&#34;: 1, &#34;a&#34;: [1, &#34;x&#34;]} <i>< &lt;b&gt; &lt;b&gt; [Markup('x')] A&amp; True"},
    {"ws_trim_lstrip",
     "a\n  {% if true %}\n    b\n  {% endif %}\n  {{ n }}\n{# c #}\nend",
     "a\n    b\n  7\nend"},
    {"ws_dash",
     "a  {%- if true -%}  b  {%- endif -%}  c {{- n -}} d",
     "abc7d"},
    {"ws_plus",
     "a\n  {%+ if true %}b{% endif +%}\nc",
     "a\n  b\nc"},
    {"trailing_newline",
     "x\n",
     "x"},
    {"crlf",
     "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc",
     "a\nb\nc"},
};

class Language : public ::testing::TestWithParam<LangCase> {};

TEST_P(Language, RendersLikeJinja2) {
  const LangCase& c = GetParam();
  auto out = render(c.source);
  ASSERT_TRUE(out.ok()) << c.source << "\n" << out.error().to_string();
  EXPECT_EQ(*out, c.expected) << c.source;
}

INSTANTIATE_TEST_SUITE_P(Jinja, Language, ::testing::ValuesIn(kLangCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- undefined values ----

TEST(Undefined, PrintsEmptyIsFalsyAndIteratesAsEmpty) {
  EXPECT_EQ(*render("[{{ nope }}]{% if nope %}x{% endif %}{% for a in nope %}y{% endfor %}"
                    "{{ nope|length }}{{ nope|default('d') }}{{ nope ~ 'c' }}"),
            "[]0dc");
}

TEST(Undefined, MissingKeyIsUndefinedButUsingItFails) {
  EXPECT_EQ(*render("{{ d.missing }}|{{ d.missing is defined }}|{{ d['missing'] is undefined }}"),
            "|False|True");
  auto r = render("{{ d.missing.deeper }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "'dict object' has no attribute 'missing'");
  EXPECT_EQ(r.error().where, "chat_template:1:13");  // the failing `.deeper`
  r = render("\n{{ nope + 1 }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "'nope' is undefined");
  EXPECT_EQ(r.error().where, "chat_template:2:4");
  EXPECT_FALSE(is_raise_exception(r.error()));
}

TEST(Undefined, GlobalsAreUndefinedWhenNotGiven) {
  auto t = ChatTemplate::parse("{{ tools is defined }} {{ messages|length }} "
                               "{{ add_generation_prompt }} [{{ bos_token }}]");
  ASSERT_TRUE(t.ok());
  ChatTemplateInputs in;
  in.messages = Json::parse(R"([{"role": "user", "content": "hi"}])");
  in.bos_token = "<s>";
  EXPECT_EQ(*t->render(in), "False 1 True [<s>]");
  in.tools = Json::parse(R"([{"type": "function"}])");
  in.extra = Json::parse(R"({"bos_token": "ignored", "x": 1})");
  EXPECT_EQ(*t->render(in), "True 1 True [<s>]");
}

// ---- errors ----

TEST(Errors, RaiseExceptionCarriesExactlyTheMessage) {
  auto r = render("{% if true %}{{ raise_exception('Roles must alternate: ' ~ n) }}{% endif %}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_raise_exception(r.error()));
  EXPECT_EQ(r.error().message, "Roles must alternate: 7");
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
}

TEST(Errors, ParseErrorsNameLineAndColumn) {
  struct Bad {
    const char* source;
    const char* where;
  };
  for (const Bad& b : {Bad{"ok\n{% if %}", "chat_template:2:7"},
                       Bad{"{{ 1 + }}", "chat_template:1:8"},
                       Bad{"{% for x in l %}", "chat_template:1:17"},
                       Bad{"{{ x|nosuchfilter }}", "chat_template:1:6"},
                       Bad{"{% frobnicate %}", "chat_template:1:4"},
                       Bad{"{{ 'open }}", "chat_template:1:4"},
                       Bad{"{% break %}", "chat_template:1:4"},
                       Bad{"line\n  {# never closed", "chat_template:2:3"}}) {
    auto t = ChatTemplate::parse(b.source);
    ASSERT_FALSE(t.ok()) << b.source;
    EXPECT_EQ(t.error().code, ErrorCode::kBadFile) << b.source;
    EXPECT_EQ(t.error().where, b.where) << b.source << ": " << t.error().message;
  }
}

TEST(Errors, TypeErrorsAreValues) {
  for (const char* s : {"{{ 'a' + 1 }}", "{{ 1 < 'a' }}", "{{ 1 // 0 }}", "{{ nul.x.y }}",
                        "{{ {}|tojson(indent=nope) }}", "{{ n() }}", "{{ nope|tojson }}",
                        "{% set n.x = 1 %}", "{% for a, b in l %}{% endfor %}", "{{ (1)[1:] }}",
                        "{{ 9223372036854775807 + 1 }}", "{{ [1].append(2) }}"}) {
    auto r = render(s);
    EXPECT_FALSE(r.ok()) << s << " rendered " << (r.ok() ? *r : "");
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kBadField) << s;
    }
  }
}

// ---- limits: every render ends, cleanly ----

void expect_limit(std::string_view source, const TemplateLimits& lim = {}) {
  auto r = render(source, lim);
  ASSERT_FALSE(r.ok()) << source;
  EXPECT_EQ(r.error().code, ErrorCode::kLimit) << source << ": " << r.error().to_string();
}

TEST(Limits, LoopsStopAtTheIterationBudget) {
  expect_limit("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  expect_limit("{% for i in range(100000000) %}{% endfor %}");  // range itself is bounded
}

TEST(Limits, RecursionStopsAtTheCallDepth) {
  expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  expect_limit("{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}");
}

// A smaller budget than the default keeps these tests quick; the mechanism is the same.
TemplateLimits small_budget() {
  TemplateLimits lim;
  lim.max_steps = 1'000'000;
  return lim;
}

TEST(Limits, ExponentialWorkStopsAtTheStepBudget) {
  // Two calls per level: 2^40 calls without any deep recursion or loop.
  TemplateLimits lim = small_budget();
  expect_limit("{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
               "{{ f(0) }}",
               lim);
}

TEST(Limits, OutputAndStringsAreBounded) {
  expect_limit("{{ 'x' * 100000000 }}");
  expect_limit("{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}");
  expect_limit("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
               "{% endfor %}");
  TemplateLimits small;
  small.max_output_bytes = 100;
  expect_limit("{% for i in range(200) %}z{% endfor %}", small);
}

TEST(Limits, WorkOnBigValuesIsCharged) {
  // Each of these does little per node but a lot per byte or element.
  const TemplateLimits lim = small_budget();
  expect_limit("{% set s = 'ab' * 300000 %}{% for i in range(100000) %}{{ s|length }}{% endfor %}",
               lim);
  expect_limit("{% set s = 'a' * 400000 %}{% set t = 'a' * 200000 ~ 'b' %}{{ t in s }}", lim);
  expect_limit("{% set s = 'x' * 400000 %}{% set a = [s] * 100000 %}{% set b = [s ~ ''] * 100000 %}"
               "{{ a == b }}",
               lim);
  expect_limit("{% set l = range(100000)|list %}{% for i in range(100) %}{{ l|sort|length }}"
               "{% endfor %}",
               lim);
  expect_limit("{% set ns = namespace(l=[]) %}{% for i in range(1000) %}"
               "{% set ns.l = ns.l + ['x' * 800000 ~ i] %}{% endfor %}",
               lim);
}

TEST(Limits, DeepValuesAndCyclesFailInsteadOfOverflowing) {
  expect_limit("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
               "{% endfor %}");
  expect_limit("{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}");
}

TEST(Limits, DeepSyntaxIsAParseError) {
  const std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  auto t = ChatTemplate::parse("{{ " + parens + " }}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kBadFile);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_FALSE(ChatTemplate::parse(ifs).ok());
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_FALSE(ChatTemplate::parse(chain + " }}").ok());
  std::string filters = "{{ 'x'";
  for (int i = 0; i < 5000; ++i) filters += "|trim";
  EXPECT_FALSE(ChatTemplate::parse(filters + " }}").ok());
}

// ---- built-in formats ----

ChatTemplateInputs conversation(bool gen) {
  ChatTemplateInputs in;
  in.messages = Json::parse(R"([{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi"}, {"role": "assistant", "content": " Hello! "},
      {"role": "user", "content": [{"type": "text", "text": "How"}, {"type": "text", "text": " are you?"}]}])");
  in.add_generation_prompt = gen;
  in.bos_token = "<|begin_of_text|>";
  return in;
}

TEST(Builtin, ChatML) {
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kChatML, conversation(true)),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(Builtin, Llama3) {
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kLlama3, conversation(true)),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// The prompt starts with bos_token: ChatGLM2's prefix tokens where the vocab has them.
TEST(Builtin, ChatGLMRoundsCountFromOne) {
  ChatTemplateInputs in = conversation(true);
  in.bos_token = "[gMASK]sop";
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kChatGLM, in),
            "[gMASK]sopBe brief.\n\n[Round 1]\n\n问：Hi\n\n答： Hello! \n\n[Round 2]\n\n问：How are you?\n\n答：");
  in.bos_token = "";
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kChatGLM, in),
            "Be brief.\n\n[Round 1]\n\n问：Hi\n\n答： Hello! \n\n[Round 2]\n\n问：How are you?\n\n答：");
}

TEST(Builtin, Plain) {
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kPlain, conversation(true)),
            "System: Be brief.\nUser: Hi\nAssistant:  Hello! \nUser: How are you?\nAssistant:");
  EXPECT_EQ(render_builtin(BuiltinChatFormat::kPlain, conversation(false)),
            "System: Be brief.\nUser: Hi\nAssistant:  Hello! \nUser: How are you?\n");
}

TEST(Builtin, ChosenByArchitectureAndVocab) {
  EXPECT_EQ(builtin_chat_format_for("qwen2", false), BuiltinChatFormat::kChatML);
  EXPECT_EQ(builtin_chat_format_for("llama", true), BuiltinChatFormat::kLlama3);
  EXPECT_EQ(builtin_chat_format_for("llama", false), BuiltinChatFormat::kPlain);
  EXPECT_EQ(builtin_chat_format_for("chatglm", false), BuiltinChatFormat::kChatGLM);
  EXPECT_EQ(builtin_chat_format_for("gpt2", false), BuiltinChatFormat::kPlain);
}

}  // namespace
}  // namespace shuo::text
