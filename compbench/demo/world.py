"""The demo's synthetic world: a small grammar of people, places, plans and times, and the fixed rules that give
the ground truth of every single task.

Everything is a function of the seed: which facts are drawn, and the made-up words of the three target
languages. The languages are **synthetic stand-ins** that fill the registry's ``es`` / ``fr`` / ``de`` slots; they
are not Spanish, French or German. Each is a word dictionary (made-up words drawn from its own syllables, names
kept) plus one reordering rule. Tone rewrites use fixed style lexicons. A compositional reference is therefore an
exact composition ``T2(T1(x))`` of these rules, which is what the real build computes with the synthetic
generators (:mod:`compbench.generation.synthetic`).

Pure Python: nothing here imports torch.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property

from compbench.tasks import LANGUAGES, TONES

#: Changes whenever a rule or a word list changes: it is part of every synthetic generator's identity.
WORLD_VERSION = "1"

NAMES: tuple[str, ...] = ("Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas",
                          "Kira", "Leo")
PLACES: tuple[str, ...] = ("park", "library", "cafe", "beach", "museum", "market", "station", "garden")
ACTIVITIES: tuple[str, ...] = ("play tennis", "cook dinner", "watch a film", "study maths", "paint the fence",
                               "plan a trip", "fix the bike", "bake bread")
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKEND: frozenset[str] = frozenset({"Saturday", "Sunday"})
TIMES: tuple[str, ...] = ("at nine", "at noon", "at six", "in the morning", "in the evening")
ITEMS: tuple[str, ...] = ("keys", "phone", "umbrella", "scarf", "camera", "wallet")

# ------------------------------------------------------------------------------------------- the grammar
#: DialogSum-style dialogues (turns of #Person1# and #Person2#). ``move``: the second speaker moves the plan.
DIALOGUES: dict[str, tuple[str, ...]] = {
    "agree": ("Hi {second}, do you want to {activity} on {day}?",
              "Yes, {first}. Let us meet at the {place} {time}.",
              "Great, see you at the {place}."),
    "move": ("Hi {second}, can we {activity} at the {place} on {old_day}?",
             "Sorry, {first}, I am busy on {old_day}. What about {day}?",
             "{day} is fine. See you {time}."),
}
#: The summary rule (names in the order the dialogue says them, the last day named), and the two other phrasings DialogSum's test split needs (it has three references).
SUMMARIES: tuple[str, ...] = ("{second} and {first} will {activity} at the {place} on {day} {time}.",
                              "On {day} {time}, {second} and {first} will {activity} at the {place}.",
                              "{second} and {first} will meet at the {place} on {day} to {activity}.")
#: SAMSum-style chat of the same plans (the out-of-domain set): other turn format, same summary rule.
CHAT: tuple[str, ...] = ("{first}: {activity} on {day}?", "{second}: sure, at the {place} {time}",
                         "{first}: see you there")
#: Persona-Chat-style messages and the reply rule of each.
MESSAGES: dict[str, str] = {
    "invite": "Do you want to {activity} at the {place} on {day}?",
    "lost": "I lost my {item} at the {place}.",
    "bring": "Can you bring my {item} to the {place} {time}?",
}
REPLIES: dict[str, str] = {
    "invite-weekend": "Yes, I would love to {activity} on {day}.",
    "invite-weekday": "Sorry, I work on {day}. Can we {activity} on Saturday instead?",
    "lost": "Oh no, I will help you look for your {item} at the {place}.",
    "bring": "Sure, I will bring your {item} to the {place} {time}.",
}
PERSONAS: tuple[str, ...] = ("I like to {activity}.", "I often go to the {place}.")
#: Sound-Natural-style rephrasing rows: the request and the message content (the tone tasks' input).
NOTES: tuple[tuple[str, str], ...] = (
    ("tell {name} i will be at the {place} {time}", "i will be at the {place} {time}"),
    ("tell {name} that we {activity} on {day}", "we {activity} on {day}"),
    ("ask {name} to bring my {item}", "can you bring my {item}?"),
    ("tell {name} i lost my {item}", "i lost my {item}"),
)

# --------------------------------------------------------------------------------------- the tone lexicons
#: Phrase substitutions per tone (matched as whole words, longest first, in one pass), and what each appends.
TONE_LEXICONS: dict[str, dict[str, str]] = {
    "professional": {"Hi": "Good day", "Yes": "Certainly", "Sorry": "My apologies", "Great": "Excellent",
                     "Sure": "Certainly", "Oh no": "I regret to hear that", "want to": "wish to",
                     "would love to": "would be delighted to", "will": "shall", "Can you": "Could you kindly",
                     "can we": "could we", "Can we": "Could we"},
    "casual": {"Hi": "Hey", "Yes": "Yeah", "Sorry": "Oops", "Sure": "Sure thing", "Oh no": "Oh man",
               "I will": "I'll", "will": "are gonna", "would love to": "would totally love to",
               "Great": "Cool"},
    "witty": {},
    "paraphrase": {"will": "plan to", "play": "have a game of", "cook": "make", "watch": "see",
                   "look for": "search for", "bring": "take", "Sorry": "Apologies", "Yes": "Indeed",
                   "lost": "misplaced", "instead": "rather", "Sure": "Of course", "Great": "Wonderful",
                   "fine": "okay", "meet": "get together"},
}
TONE_ENDINGS: dict[str, str] = {"professional": "Kind regards.", "casual": ":)", "witty": "", "paraphrase": ""}
#: The witty tone appends the pun of the first keyword found (in this order), else the last one.
PUNS: tuple[tuple[str, str], ...] = (
    ("park", "What a walk in the park!"), ("library", "That is one for the books!"),
    ("cafe", "Sounds like a brew-tiful plan!"), ("beach", "Shore thing!"), ("museum", "History in the making!"),
    ("market", "A deal is a deal!"), ("station", "All aboard!"), ("garden", "Lettuce celebrate!"),
    ("tennis", "Love all!"), ("keys", "Key decision!"), ("phone", "Call it fate!"),
    ("", "Never a dull moment!"),
)

# ------------------------------------------------------------------------------------- the target languages
#: The synthetic language in each of the registry's language slots: its name, syllables and reordering rule.
SYNTHETIC_LANGUAGES: dict[str, dict[str, object]] = {
    "es": {"name": "Synthetic-E", "onsets": "b d l m n p r s t v", "nuclei": "a e i o",
           "codas": "", "rule": "the last two words of a sentence swap places"},
    "fr": {"name": "Synthetic-F", "onsets": "f l m n p r s v", "nuclei": "ai au ou eu",
           "codas": "", "rule": "the first word of a sentence moves to its end"},
    "de": {"name": "Synthetic-D", "onsets": "b d g k st sch t w", "nuclei": "a e i u",
           "codas": "n r s t", "rule": "the word after 'will' moves to the end of the sentence"},
}
assert set(SYNTHETIC_LANGUAGES) == set(LANGUAGES)
assert set(TONE_LEXICONS) == set(TONES) == set(TONE_ENDINGS)

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*|[^\sA-Za-z]")
_SENTENCE_END = frozenset(".?!")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


# ----------------------------------------------------------------------------------------------- the facts
@dataclass(frozen=True)
class Plan:
    """Two people agree to do something somewhere, on a day, at a time (``old_day``: the day first proposed)."""

    first: str
    second: str
    activity: str
    place: str
    day: str
    time: str
    kind: str  # a key of DIALOGUES
    old_day: str = ""

    @property
    def slots(self) -> dict[str, str]:
        return {"first": self.first, "second": self.second, "activity": self.activity, "place": self.place,
                "day": self.day, "time": self.time, "old_day": self.old_day}

    def dialogue(self) -> list[str]:
        return [turn.format(**self.slots) for turn in DIALOGUES[self.kind]]

    def summaries(self) -> list[str]:
        """The summary rule first, then the two other phrasings."""
        return [summary.format(**self.slots) for summary in SUMMARIES]

    def chat(self) -> list[str]:
        return [turn.format(**self.slots) for turn in CHAT]


@dataclass(frozen=True)
class Message:
    """A message that asks for a reply (Persona Chat's context line)."""

    kind: str  # a key of MESSAGES
    activity: str
    place: str
    day: str
    time: str
    item: str

    @property
    def slots(self) -> dict[str, str]:
        return {"activity": self.activity, "place": self.place, "day": self.day, "time": self.time,
                "item": self.item}

    def text(self) -> str:
        return MESSAGES[self.kind].format(**self.slots)

    def reply(self) -> str:
        """The reply rule: yes to weekend invitations, a counter-proposal on weekdays, help, or a promise."""
        key = self.kind
        if key == "invite":
            key = "invite-weekend" if self.day in WEEKEND else "invite-weekday"
        return REPLIES[key].format(**self.slots)


def draw_plan(rng: random.Random) -> Plan:
    first, second = rng.sample(NAMES, 2)
    kind = rng.choice(tuple(DIALOGUES))
    day, old_day = rng.sample(DAYS, 2)
    return Plan(first, second, rng.choice(ACTIVITIES), rng.choice(PLACES), day, rng.choice(TIMES), kind,
                old_day if kind == "move" else "")


def draw_message(rng: random.Random) -> Message:
    return Message(rng.choice(tuple(MESSAGES)), rng.choice(ACTIVITIES), rng.choice(PLACES), rng.choice(DAYS),
                   rng.choice(TIMES), rng.choice(ITEMS))


def draw_note(rng: random.Random) -> tuple[str, str]:
    """A Sound Natural row: ``(request, message content)``, lower-case as that source writes them."""
    request, content = rng.choice(NOTES)
    slots = {"name": rng.choice(NAMES), "place": rng.choice(PLACES), "time": rng.choice(TIMES),
             "activity": rng.choice(ACTIVITIES), "day": rng.choice(DAYS), "item": rng.choice(ITEMS)}
    return request.format(**slots), content.format(**slots)


# ---------------------------------------------------------------------------------------------- the rules
def _substitute(text: str, lexicon: dict[str, str]) -> str:
    if not lexicon:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(lexicon, key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: lexicon[m.group(1)], text)


def pun_for(text: str) -> str:
    lowered = {w.lower() for w in words_of(text)}
    return next(pun for keyword, pun in PUNS if not keyword or keyword in lowered)


def rewrite_tone(text: str, tone: str) -> str:
    """The tone rule: the tone's phrase substitutions, then its ending (witty: the pun of the text's keyword)."""
    if tone not in TONE_LEXICONS:
        raise ValueError(f"unknown tone {tone!r}")
    out = _substitute(text.strip(), TONE_LEXICONS[tone])
    ending = pun_for(text) if tone == "witty" else TONE_ENDINGS[tone]
    return f"{out} {ending}".strip()


def reorder(words: list[str], lang: str) -> list[str]:
    """The language's reordering rule on one sentence's words (before the dictionary is applied)."""
    if lang == "es":
        return words[:-2] + words[-2:][::-1] if len(words) >= 2 else list(words)
    if lang == "fr":
        return words[1:] + words[:1]
    if lang == "de":
        lowered = [w.lower() for w in words]
        if "will" in lowered and lowered.index("will") + 1 < len(words):
            i = lowered.index("will") + 1
            return words[:i] + words[i + 1:] + [words[i]]
        return list(words)
    raise ValueError(f"no synthetic language in slot {lang!r}")


def split_sentences(text: str) -> list[tuple[list[str], str]]:
    """``(words, final punctuation)`` per sentence; other punctuation is dropped (translations keep none)."""
    sentences: list[tuple[list[str], str]] = []
    words: list[str] = []
    for token in _TOKEN.findall(text):
        if token in _SENTENCE_END:
            if words:
                sentences.append((words, token))
            words = []
        elif _WORD.fullmatch(token):
            words.append(token)
    if words:
        sentences.append((words, ""))
    return sentences


# ------------------------------------------------------------------------------------------------ the world
def _templates() -> list[str]:
    """Every constant text of the grammar and the lexicons: the vocabulary comes from these."""
    texts = [*NAMES, *PLACES, *ACTIVITIES, *DAYS, *TIMES, *ITEMS, *SUMMARIES, *CHAT, *PERSONAS,
             *MESSAGES.values(), *REPLIES.values(), *TONE_ENDINGS.values()]
    texts += [turn for turns in DIALOGUES.values() for turn in turns]
    texts += [part for pair in NOTES for part in pair]
    texts += [v for lexicon in TONE_LEXICONS.values() for pair in lexicon.items() for v in pair]
    texts += [pun for _, pun in PUNS]
    return texts


def vocabulary() -> list[str]:
    """Every word the world can say (lower-case, sorted), names excluded: what the dictionaries translate."""
    names = {n.lower() for n in NAMES}
    found = {w.lower() for text in _templates() for w in words_of(re.sub(r"\{[a-z_]+\}", " ", text))}
    return sorted(found - names)


class World:
    """The synthetic world of one seed: its dictionaries, and every rule as a method."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    @property
    def id(self) -> str:
        return f"synthetic-world:{self.seed}"

    @cached_property
    def dictionaries(self) -> dict[str, dict[str, str]]:
        """English word -> made-up word, per language slot; one-to-one, drawn with the seed."""
        return {lang: _dictionary(self.seed, lang) for lang in SYNTHETIC_LANGUAGES}

    def translate(self, text: str, lang: str) -> str:
        """The translation rule: per sentence, reorder the words, then look each one up (names are kept)."""
        dictionary = self.dictionaries[lang]
        out = []
        for words, end in split_sentences(text):
            translated = [w if w in NAMES else dictionary.get(w.lower(), w.lower()) for w in reorder(words, lang)]
            sentence = " ".join(translated)
            out.append(sentence[:1].upper() + sentence[1:] + end)
        return " ".join(out)

    def rewrite_tone(self, text: str, tone: str) -> str:
        return rewrite_tone(text, tone)

    def apply(self, task: str, text: str) -> str:
        """An auxiliary task's rule by task id: ``tr-es`` translates, ``tone-witty`` rewrites."""
        kind, _, variant = task.partition("-")
        if kind == "tr":
            return self.translate(text, variant)
        if kind == "tone":
            return self.rewrite_tone(text, variant)
        raise ValueError(f"no rule for task {task!r}")


def _syllables(lang: str) -> list[str]:
    spec = SYNTHETIC_LANGUAGES[lang]
    onsets, nuclei = str(spec["onsets"]).split(), str(spec["nuclei"]).split()
    codas = str(spec["codas"]).split() or [""]
    return [o + n + c for o in onsets for n in nuclei for c in codas]


def _dictionary(seed: int, lang: str) -> dict[str, str]:
    rng = random.Random(f"compbench-demo-world:{WORLD_VERSION}:{seed}:{lang}")
    syllables = _syllables(lang)
    taken: set[str] = set()
    dictionary = {}
    for word in vocabulary():
        count = 1 if len(word) <= 3 else 2 if len(word) <= 6 else 3
        while True:
            made = "".join(rng.choice(syllables) for _ in range(count))
            if made not in taken:
                break
            count += 1 if rng.random() < 0.1 else 0
        taken.add(made)
        dictionary[word] = made
    return dictionary
