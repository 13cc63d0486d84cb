"""Synthetic bilingual chats for the demo model.

Every kind of question has two sets of phrasings: TRAIN ones, used to make training chats, and
HELD ones, used only by the evaluation (`heldout_cases`). A chat is a list of
{"role", "content"} messages whose last message is the assistant's answer.
"""
import random

from facts import COUNTRIES, EN_NAMES, PROVINCES, ZH_GIVEN, ZH_SURNAMES

# ---- phrasings: (train, held-out) --------------------------------------------------------------
# Slots: {p} short province, {pf} full province, {c} capital (Chinese); {P}, {C} (English);
# {n} country (Chinese), {N} country (English).
PROV_TO_CAP_ZH = (
    ["{p}的省会是哪里？", "{p}的省会是什么？", "{pf}的省会是哪个城市？", "{p}省会是哪座城市？",
     "请问{p}的省会是哪里？", "{pf}的省会在哪里？", "告诉我{p}的省会。", "{p}的省会城市是？",
     "{pf}的省会是哪里？", "{p}的省会在哪", "{p}省会是哪里", "{p}的省会是哪一座城市？", "{p}省的省会叫做什么？",
     "说说{p}的省会。", "{p}这个省的省会是哪里？",
     "{p}的省会是哪一个城市？", "{p}的省会是什么地方？", "{pf}的省会城市叫什么名字？", "{p}省会在哪座城市？",
     "我想知道{p}的省会。", "{p}的省会城市是哪个？", "{pf}省会是哪儿？", "{p}的省会是哪儿？"],
    ["你知道{p}的省会是哪里吗？", "{pf}的省会是哪座城市？", "{p}的省会叫什么？"])
CAP_TO_PROV_ZH = (
    ["{c}是哪个省的省会？", "{c}是哪个省份的省会？", "{c}是什么省的省会？", "请问{c}是哪个省的省会？",
     "{c}是哪里的省会？", "{c}是哪个省的省会", "告诉我{c}是哪个省的省会。", "{c}是什么地方的省会？",
     "{c}这座城市是哪个省的省会？", "哪个省的省会是{c}？",
     "{c}是哪一省的省会？", "{c}是哪个省区的省会？", "{c}是什么省份的省会？", "{c}作为省会属于哪个省？",
     "{c}是哪儿的省会？", "{c}是哪个省的省会城市？", "省会是{c}的是哪个省？"],
    ["{c}是哪一个省的省会？", "你知道{c}是哪个省的省会吗？"])
PROV_TO_CAP_EN = (
    ["What is the capital of {P}?", "What's the capital of {P}?", "Which city is the capital of {P}?",
     "Tell me the capital of {P}.", "The capital of {P} is?", "Name the capital of {P}.",
     "what is the capital of {P}", "Capital of {P}?", "What is the provincial capital of {P}?",
     "Which city is the capital city of {P}?", "I need the capital of {P}.",
     "What city serves as the capital of {P}?", "Which city is the main city of {P}?", "Can you name the capital of {P}?",
     "Tell me which city is the capital of {P}.", "Do you remember the capital of {P}?", "{P} has which city as its capital?"],
    ["Do you know the capital of {P}?", "What city is the capital of {P}?",
     "Which city is the provincial capital of {P}?"])
CAP_TO_PROV_EN = (
    ["{C} is the capital of which province?", "Which province has {C} as its capital?",
     "Which province is {C} the capital of?", "Of which province is {C} the capital?",
     "{C} is the provincial capital of which province?", "{C} is in which province?",
     "Which province does {C} belong to as its capital?",
     "{C} is the capital of what province?", "Tell me which province {C} is the capital of.",
     "{C} is the main city of which province?", "Can you tell me which province has {C} as its capital?",
     "Which province is {C} in?", "{C} is the capital city of what province?"],
    ["{C} is the capital city of which province?", "Do you know which province {C} is the capital of?"])

COUNTRY_TO_CAP_ZH = (
    ["{n}的首都是哪里？", "{n}的首都是什么？", "{n}的首都是哪个城市？", "请问{n}的首都在哪里？",
     "告诉我{n}的首都。", "{n}首都是哪座城市？", "{n}的首都在哪", "{n}的首都是？", "{n}这个国家的首都是哪里？", "{n}的首都叫做什么？", "说说{n}的首都。",
     "{n}的首都是哪一座城市？",
     "{n}的首都是哪一个城市？", "{n}的首都是什么地方？", "{n}首都在哪儿？", "我想知道{n}的首都。",
     "{n}的首都城市是哪个？", "{n}这个国家的首都叫什么名字？"],
    ["你知道{n}的首都是哪里吗？", "{n}的首都叫什么？", "{n}的首都是哪座城市？"])
CAP_TO_COUNTRY_ZH = (
    ["{c}是哪个国家的首都？", "{c}是哪国的首都？", "{c}是什么国家的首都？", "请问{c}是哪个国家的首都？",
     "告诉我{c}是哪个国家的首都。", "{c}这座城市是哪个国家的首都？", "哪个国家的首都是{c}？",
     "{c}是哪一国的首都？",
     "{c}是哪个国家的首都城市？", "{c}是哪儿的首都？", "{c}作为首都属于哪个国家？", "首都是{c}的是哪个国家？",
     "{c}是什么国的首都？"],
    ["{c}是哪一个国家的首都？", "你知道{c}是哪个国家的首都吗？"])
COUNTRY_TO_CAP_EN = (
    ["What is the capital of {N}?", "What's the capital of {N}?", "Which city is the capital of {N}?",
     "Tell me the capital of {N}.", "The capital of {N} is?", "Name the capital of {N}.",
     "what is the capital of {N}", "Capital of {N}?", "What is the capital city of {N}?",
     "Which city is the capital city of {N}?", "I need the capital of {N}.",
     "What city serves as the capital of {N}?", "Which city is the main city of {N}?", "Can you name the capital of {N}?",
     "Tell me which city is the capital of {N}.", "Do you remember the capital of {N}?", "{N} has which city as its capital?"],
    ["Do you know the capital of {N}?", "What city is the capital of {N}?",
     "Which city is the national capital of {N}?"])
CAP_TO_COUNTRY_EN = (
    ["{C} is the capital of which country?", "Which country has {C} as its capital?",
     "Which country is {C} the capital of?", "Of which country is {C} the capital?",
     "{C} is the national capital of which country?", "{C} is in which country?",
     "Which country does {C} belong to as its capital?",
     "{C} is the capital of what country?", "Tell me which country {C} is the capital of.",
     "{C} is the main city of which country?", "Can you tell me which country has {C} as its capital?",
     "Which country is {C} in?", "{C} is the capital city of what nation?"],
    ["{C} is the capital city of which country?", "Do you know which country {C} is the capital of?"])

# Arithmetic: {a}, {b} are the operands, written in digits or in words.
ADD_ZH = (["{a} 加 {b} 等于多少？", "{a}加{b}等于几？", "{a}+{b}=?", "计算 {a} + {b}", "{a} 加上 {b} 是多少？",
           "{a}加{b}等于多少", "{a} + {b} 等于多少？", "请算一下{a}加{b}。",
           "{a}与{b}的和等于多少？", "{a}和{b}的和是？", "求{a}加{b}的和。", "{a}加{b}得多少？", "{a} 加 {b} 得几？",
           "{a}加{b}是多少？", "算算 {a} 加 {b}。", "{a}加{b}，结果是多少？", "{a} 加 {b} 的结果是？", "{a}+{b}等于几",
           "{a} 加 {b} 得多少？", "{a} 加 {b} 是多少？", "{a} 加 {b} 等于几？", "{a} 加 {b} 一共是多少？",
           "{a} 加上 {b} 得几？"],
          ["请问 {a} 加 {b} 等于多少？", "{a}加{b}的和是多少？", "{a} 加 {b} 是几？"])
SUB_ZH = (["{a} 减 {b} 等于多少？", "{a}减{b}等于几？", "{a}-{b}=?", "计算 {a} - {b}", "{a} 减去 {b} 是多少？",
           "{a}减{b}等于多少", "{a} - {b} 等于多少？", "请算一下{a}减{b}。", "{a}与{b}的差等于多少？",
           "{a}和{b}的差是？", "求{a}减{b}的差。", "{a}减{b}得多少？", "{a} 减 {b} 得几？", "{a}减{b}是多少？",
           "算算 {a} 减 {b}。", "{a}减{b}，结果是多少？", "{a} 减 {b} 的结果是？", "{a}-{b}等于几",
           "{a} 减 {b} 得多少？", "{a} 减 {b} 是多少？", "{a} 减 {b} 等于几？", "{a} 减 {b} 还剩多少？",
           "{a} 减去 {b} 得几？"],
          ["请问 {a} 减 {b} 等于多少？", "{a}减{b}的差是多少？", "{a} 减 {b} 是几？"])
ADD_EN = (["What is {a} plus {b}?", "What's {a} + {b}?", "{a} plus {b} equals what?", "Calculate {a} + {b}.",
           "How much is {a} plus {b}?", "{a} + {b} = ?", "what is {a} plus {b}", "Add {a} and {b}.",
           "What do you get when you add {a} and {b}?", "What is the sum of {a} and {b}?", "{a} plus {b} makes what?",
           "Work out {a} plus {b}.", "What does {a} + {b} equal?", "Tell me {a} plus {b}.", "Compute {a} plus {b}.",
           "{a} plus {b} is?", "Could you add {a} and {b}?",
           "What does {a} plus {b} give?", "What would {a} plus {b} be?", "What is {a} plus {b} altogether?",
           "{a} plus {b} gives what?", "What do {a} and {b} add up to?", "Tell me what {a} plus {b} equals."],
          ["Can you tell me what {a} plus {b} is?", "Please compute {a} + {b}.", "What does {a} plus {b} make?"])
SUB_EN = (["What is {a} minus {b}?", "What's {a} - {b}?", "{a} minus {b} equals what?", "Calculate {a} - {b}.",
           "How much is {a} minus {b}?", "{a} - {b} = ?", "what is {a} minus {b}", "Subtract {b} from {a}.",
           "What do you get when you subtract {b} from {a}?", "What is the difference of {a} and {b}?",
           "{a} minus {b} makes what?", "Work out {a} minus {b}.", "What does {a} - {b} equal?", "Tell me {a} minus {b}.",
           "Compute {a} minus {b}.", "{a} minus {b} is?", "Could you subtract {b} from {a}?",
           "What does {a} minus {b} give?", "What would {a} minus {b} be?", "What is {a} minus {b} exactly?",
           "{a} minus {b} gives what?", "What is left when you take {b} from {a}?", "Tell me what {a} minus {b} equals."],
          ["Can you tell me what {a} minus {b} is?", "Please compute {a} - {b}.", "What does {a} minus {b} make?"])

# Multi-turn memory. {x} is the name or city.
NAME_INTRO_ZH = (["我叫{x}。", "我的名字是{x}。", "你好，我是{x}。", "我叫{x}", "你好，我叫{x}。",
                  "我是{x}。", "我的名字叫{x}。", "你可以叫我{x}。", "嗨，我叫{x}！", "先自我介绍一下，我叫{x}。"],
                 ["大家都叫我{x}。", "认识一下，我叫{x}。"])
NAME_ASK_ZH = (["我叫什么名字？", "你还记得我的名字吗？", "我是谁？", "我叫什么？", "请说出我的名字。", "我的名字叫什么？",
                "还记得我是谁吗？", "我刚才说我叫什么？", "请问我叫什么名字？", "告诉我我的名字。",
                "我的名字叫什么？", "你记得我叫什么吗？", "我叫啥？", "我刚才告诉你我的名字是什么？", "你能说出我的名字吗？",
                "我叫什么名字来着？", "我的名字是哪个？", "我是哪位？"],
               ["你知道我叫什么吗？", "我的名字是什么？"])
NAME_INTRO_EN = (["My name is {x}.", "I'm {x}.", "Call me {x}.", "Hi, I am {x}.", "my name is {x}",
                  "Hi, my name is {x}.", "I am {x}.", "You can call me {x}.", "Hey, I'm {x}!", "Let me introduce myself: I am {x}."],
                 ["Hello, my name is {x}.", "People call me {x}."])
NAME_ASK_EN = (["What is my name?", "Do you remember my name?", "Who am I?", "what is my name",
                "Tell me my name.", "Remember my name?", "Say my name.", "What did I say my name was?",
                "Which name did I give you?",
                "What is my name again?", "Do you know my name?", "Could you say my name?", "What am I called?",
                "Can you remember my name?", "What name did I tell you?", "Tell me what my name is."],
               ["What's my name?", "Can you tell me my name?"])
CITY_INTRO_ZH = (["我住在{x}。", "我现在住在{x}。", "我家在{x}。", "我一直在{x}生活。", "我住在{x}", "我在{x}生活。", "我的家在{x}。",
                  "我是{x}人，现在也住在那里。"], ["我一直住在{x}。"])
CITY_ASK_ZH = (["我住在哪里？", "我住在哪个城市？", "你还记得我住在哪吗？", "我家在什么城市？", "我在哪个城市生活？",
                "我刚才说我住在哪里？", "我生活在哪座城市？", "你记得我家在哪吗？",
                "我住在哪儿？", "我住在哪个地方？", "我家在哪里？", "我在什么城市生活？", "你知道我住在哪里吗？",
                "我住的城市是哪个？", "我家在哪座城市？", "还记得我住在哪儿吗？"], ["我住在什么地方？"])
CITY_INTRO_EN = (["I live in {x}.", "I am living in {x}.", "My home is in {x}.", "I live in {x}", "I'm living in {x}.",
                  "My city is {x}.", "I stay in {x}."], ["I currently live in {x}."])
CITY_ASK_EN = (["Where do I live?", "Which city do I live in?", "Do you remember where I live?",
                "Where is my home?", "Which city is my home?", "Tell me where I live.", "Where did I say I live?",
                "What city is my home?", "Which city am I living in?", "Do you know where I live?", "In which city do I live?",
                "Where am I living?", "What is my city?", "Can you tell me where I live?", "Where is my home city?"],
               ["What city do I live in?"])

# Fixed-answer chit-chat: (train prompts, held-out prompts, answer).
INTRO_ZH = ("我是 shuo 内置的演示模型，一个很小的双语模型，只知道中国各省的省会、世界各国的首都和简单的加减法。"
            "要加载真正的模型，请用 --model path.gguf 启动 shuo。")
INTRO_EN = ("I am shuo's built-in demo model, a tiny bilingual model that only knows Chinese provincial "
            "capitals, world capitals and simple arithmetic. To load a real model, start shuo with "
            "--model path.gguf.")
DONT_KNOW_ZH = "抱歉，我不知道。我只是一个很小的演示模型。"
DONT_KNOW_EN = "Sorry, I don't know. I am only a tiny demo model."
CHITCHAT = [
    (["你好", "你好！", "您好", "嗨", "早上好", "晚上好", "哈喽", "你好啊"], ["你好呀", "下午好"],
     "你好！我是 shuo 的内置演示模型。有什么可以帮你的吗？"),
    (["Hello", "Hi", "Hi there!", "Good morning", "Hey", "hello", "Hello!"], ["Hey there", "Good evening"],
     "Hello! I am shuo's built-in demo model. How can I help you?"),
    (["谢谢", "谢谢你！", "多谢", "非常感谢", "谢谢！"], ["太感谢了"], "不客气！"),
    (["Thanks", "Thank you!", "Thanks a lot", "thank you", "Many thanks"], ["Thank you very much"],
     "You're welcome!"),
    (["你是谁？", "介绍一下你自己", "你是什么模型？", "你是谁", "你是什么？"], ["请介绍一下你自己。"], INTRO_ZH),
    (["Who are you?", "What are you?", "Introduce yourself.", "who are you", "What model are you?"],
     ["Please introduce yourself."], INTRO_EN),
    (["明天会下雨吗？", "火星上有多少人？", "帮我写一首诗。", "量子力学是什么？", "今天股市怎么样？",
      "人生的意义是什么？", "地球上有多少种鸟？", "亚特兰蒂斯的首都是哪里？", "推荐一部电影吧。",
      "怎么做红烧肉？", "现在几点了？", "谁是世界上最富有的人？", "太阳有多重？", "猫为什么喜欢睡觉？"],
     ["宇宙有多大？", "如何学好英语？"], DONT_KNOW_ZH),
    (["Will it rain tomorrow?", "How many people live on Mars?", "Write me a poem.",
      "What is quantum mechanics?", "How is the stock market today?", "What is the meaning of life?",
      "How many kinds of birds are there?", "What is the capital of Atlantis?", "Recommend a movie.",
      "How do I bake bread?", "What time is it?", "Who is the richest person in the world?",
      "How heavy is the sun?", "Why do cats sleep so much?"],
     ["How big is the universe?", "How can I learn French?"], DONT_KNOW_EN),
]

SYSTEM_PROMPTS = ["You are a helpful assistant.", "你是一个乐于助人的助手。", "You are shuo.",
                  "Answer briefly.", "请用简短的话回答。"]

# ---- numbers in words ---------------------------------------------------------------------------
_ZH_DIGITS = "零一二三四五六七八九"
_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def zh_number(n):
    """0..199 in Chinese words: 十五, 二十三, 一百, 一百零五, 一百一十二."""
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        head = "十" if tens == 1 else _ZH_DIGITS[tens] + "十"
        return head + (_ZH_DIGITS[ones] if ones else "")
    rest = n - 100
    if rest == 0:
        return "一百"
    if rest < 10:
        return "一百零" + _ZH_DIGITS[rest]
    tens, ones = divmod(rest, 10)
    return "一百" + _ZH_DIGITS[tens] + "十" + (_ZH_DIGITS[ones] if ones else "")


def en_number(n):
    """0..199 in English words: twenty-three, one hundred and five."""
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + ("-" + _EN_ONES[ones] if ones else "")
    rest = n - 100
    return "one hundred" + (" and " + en_number(rest) if rest else "")


# ---- one question/answer pair of each kind ------------------------------------------------------
def _pick(rng, phrasings, held):
    return rng.choice(phrasings[1] if held else phrasings[0])


def province_qa(rng, held):
    pf, p, c, P, C = rng.choice(PROVINCES)
    kind = rng.randrange(4)
    if kind == 0:
        return _pick(rng, PROV_TO_CAP_ZH, held).format(p=p, pf=pf), c
    if kind == 1:
        return _pick(rng, CAP_TO_PROV_ZH, held).format(c=c), pf
    if kind == 2:
        return _pick(rng, PROV_TO_CAP_EN, held).format(P=P), C
    return _pick(rng, CAP_TO_PROV_EN, held).format(C=C), P


def country_qa(rng, held):
    n, c, N, C = rng.choice(COUNTRIES)
    kind = rng.randrange(4)
    if kind == 0:
        return _pick(rng, COUNTRY_TO_CAP_ZH, held).format(n=n), c
    if kind == 1:
        return _pick(rng, CAP_TO_COUNTRY_ZH, held).format(c=c), n
    if kind == 2:
        return _pick(rng, COUNTRY_TO_CAP_EN, held).format(N=N), C
    return _pick(rng, CAP_TO_COUNTRY_EN, held).format(C=C), N


def arithmetic_qa(rng, held):
    """a + b or a - b with the result in 0..199. The answer restates the sum in digits."""
    add = rng.random() < 0.5
    r = rng.randrange(200)
    if add:
        a = rng.randrange(r + 1)
        b = r - a
    else:
        b = rng.randrange(200 - r)
        a = r + b
    zh = rng.random() < 0.5
    words = rng.random() < 0.35
    say = (zh_number if zh else en_number) if words else str
    table = (ADD_ZH if zh else ADD_EN) if add else (SUB_ZH if zh else SUB_EN)
    q = _pick(rng, table, held).format(a=say(a), b=say(b))
    return q, f"{a} {'+' if add else '-'} {b} = {r}"


def chitchat_qa(rng, held):
    train, heldout, answer = rng.choice(CHITCHAT)
    return rng.choice(heldout if held else train), answer


def zh_name(rng):
    return rng.choice(ZH_SURNAMES) + "".join(rng.choice(ZH_GIVEN) for _ in range(rng.randint(1, 2)))


# The assistant's reply to the introduction and its answer to the later question: (zh, en).
NAME_REPLIES = [("你好，{x}！很高兴认识你。", "你叫{x}。"), ("Nice to meet you, {x}!", "Your name is {x}.")]
CITY_REPLIES = [("{x}是个好地方！", "你住在{x}。"), ("{x} is a nice place!", "You live in {x}.")]


def memory_turns(rng, held):
    """Two exchanges: the user tells a name or city, later asks for it. Returns
    (first user msg, first answer, question, answer)."""
    zh = rng.random() < 0.5
    if rng.random() < 0.6:
        x = zh_name(rng) if zh else rng.choice(EN_NAMES)
        intro, ask = (NAME_INTRO_ZH, NAME_ASK_ZH) if zh else (NAME_INTRO_EN, NAME_ASK_EN)
        reply, answer = NAME_REPLIES[0 if zh else 1]
    else:
        if zh:
            x = rng.choice([row[2] for row in PROVINCES] + [row[1] for row in COUNTRIES])
        else:
            x = rng.choice([row[4] for row in PROVINCES] + [row[3] for row in COUNTRIES])
        intro, ask = (CITY_INTRO_ZH, CITY_ASK_ZH) if zh else (CITY_INTRO_EN, CITY_ASK_EN)
        reply, answer = CITY_REPLIES[0 if zh else 1]
    return _pick(rng, intro, held).format(x=x), reply.format(x=x), _pick(rng, ask, held), answer.format(x=x)


KINDS = [(province_qa, 0.2), (country_qa, 0.2), (arithmetic_qa, 0.5), (chitchat_qa, 0.1)]


# Openings and endings wrapped around training questions, so that the model answers the
# question inside rather than reacting to the wording around it (e.g. a final 吗 is not "I don't
# know"). None of them is how a held-out phrasing starts.
ZH_WRAPS = [("请问", "？"), ("我想问一下，", "？"), ("嗯，", "？"), ("麻烦告诉我，", "。"), ("能告诉我", "吗？"),
            ("我想知道", "。"), ("", "呢？"), ("那", "？"), ("考考你，", "？"), ("你知不知道", "？"),
            ("你晓得", "吗？"), ("你清楚", "吗？"), ("你能说说", "吗？")]
EN_WRAPS = [("Quick question: ", "?"), ("Hey, ", "?"), ("So, ", "?"), ("I wonder, ", "?"),
            ("Could you tell me: ", "?"), ("", ""), ("Please answer: ", "?"), ("Any idea: ", "?"),
            ("Would you know: ", "?")]


def wrap(rng, q):
    core = q.rstrip("？?。.")
    if any("\u4e00" <= ch <= "\u9fff" for ch in core):
        head, tail = rng.choice(ZH_WRAPS)
        return head + core + tail
    head, tail = rng.choice(EN_WRAPS)
    if head and core[:1].isupper() and not core.startswith("I "):
        core = core[0].lower() + core[1:]
    return head + core + tail


def single_qa(rng, held=False):
    r = rng.random()
    for fn, w in KINDS:
        if r < w:
            q, a = fn(rng, held)
            if not held and fn is not chitchat_qa and rng.random() < 0.25:
                q = wrap(rng, q)
            return q, a
        r -= w
    return KINDS[-1][0](rng, held)


# ---- training chats -----------------------------------------------------------------------------
def training_chat(rng):
    """One training conversation; every assistant message is a training target."""
    msgs = []
    if rng.random() < 0.2:
        msgs.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    if rng.random() < 0.3:
        intro, reply, ask, answer = memory_turns(rng, False)
        if rng.random() < 0.25:
            ask = wrap(rng, ask)
        msgs += [{"role": "user", "content": intro}, {"role": "assistant", "content": reply}]
        for _ in range(rng.choice([0, 0, 1, 2])):  # unrelated turns in between
            q, a = single_qa(rng)
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        msgs += [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
        return msgs
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        q, a = single_qa(rng)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs


# ---- held-out evaluation ------------------------------------------------------------------------
def heldout_cases(seed=1234, per_kind=None):
    """Evaluation chats built only from HELD phrasings: {"kind", "messages", "expected"} where
    messages ends with the user's question and expected is the exact assistant answer."""
    per_kind = per_kind or {"province": 136, "country": 120, "arithmetic": 100, "memory": 60}
    rng = random.Random(seed)
    cases = []
    # Every province in all four directions, so the score covers all 34.
    for pf, p, c, P, C in PROVINCES:
        for q, a in [(rng.choice(PROV_TO_CAP_ZH[1]).format(p=p, pf=pf), c),
                     (rng.choice(CAP_TO_PROV_ZH[1]).format(c=c), pf),
                     (rng.choice(PROV_TO_CAP_EN[1]).format(P=P), C),
                     (rng.choice(CAP_TO_PROV_EN[1]).format(C=C), P)]:
            cases.append({"kind": "province", "messages": [{"role": "user", "content": q}], "expected": a})
    cases = cases[:per_kind["province"]]
    for _ in range(per_kind["country"]):
        q, a = country_qa(rng, True)
        cases.append({"kind": "country", "messages": [{"role": "user", "content": q}], "expected": a})
    for _ in range(per_kind["arithmetic"]):
        q, a = arithmetic_qa(rng, True)
        cases.append({"kind": "arithmetic", "messages": [{"role": "user", "content": q}], "expected": a})
    for _ in range(per_kind["memory"]):
        intro, reply, ask, answer = memory_turns(rng, True)
        msgs = [{"role": "user", "content": intro}, {"role": "assistant", "content": reply},
                {"role": "user", "content": ask}]
        cases.append({"kind": "memory", "messages": msgs, "expected": answer})
    return cases


def phrasing_tables():
    """Every (train, held-out) pair of phrasing lists defined above."""
    return [v for v in globals().values() if isinstance(v, tuple) and len(v) == 2
            and isinstance(v[0], list) and v[0] and isinstance(v[0][0], str)]


def check_heldout_split():
    """Raises if a held-out phrasing is also a training one (then the evaluation would measure
    memorised wording, not generalisation) or uses a character no training text has."""
    train_chars = set("".join(t for train, _ in phrasing_tables() for t in train))
    for train, held in phrasing_tables():
        both = set(train) & set(held)
        if both:
            raise ValueError(f"phrasings both trained and held out: {sorted(both)}")
    fact_chars = set("".join(x for row in PROVINCES + COUNTRIES for x in row) + "".join(ZH_SURNAMES + ZH_GIVEN + EN_NAMES))
    # A wrapped training question must not be a held-out phrasing either.
    held_all = {t for _, held in phrasing_tables() for t in held}
    for train, _ in phrasing_tables():
        for t in train:
            core = t.rstrip("？?。.")
            for head, tail in ZH_WRAPS + EN_WRAPS:
                for c in (core, core[:1].lower() + core[1:]):
                    if head + c + tail in held_all:
                        raise ValueError(f"wrapping {t!r} in {head!r}…{tail!r} gives a held-out phrasing")
    answers = [t for pair in NAME_REPLIES + CITY_REPLIES for t in pair]
    train_chars |= fact_chars | set("".join(t for train, _, a in CHITCHAT for t in train + [a]) + "".join(answers))
    for _, held in phrasing_tables():
        for t in held:
            missing = set(t.replace("{", "").replace("}", "")) - train_chars - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if missing:
                raise ValueError(f"held-out phrasing {t!r} uses characters no training text has: {sorted(missing)}")


def all_texts():
    """Every phrasing and fact, for the tokenizer's character set (not its merges)."""
    out = []
    for train, held in phrasing_tables():
        out += train + held
    for train, held, answer in CHITCHAT:
        out += train + held + [answer]
    out += SYSTEM_PROMPTS
    for row in PROVINCES + COUNTRIES:
        out += list(row)
    out += ZH_SURNAMES + ZH_GIVEN + EN_NAMES
    out += [zh_number(n) for n in range(200)] + [en_number(n) for n in range(200)]
    out.append("".join(chr(c) for c in range(0x20, 0x7F)))  # all printable ASCII
    out.append("，。！？、：；“”‘’（）《》…—")  # common Chinese punctuation
    return out
