"""Write the bundled sample dataset, ``assets/sample_reviews.csv`` (columns ``text,label``).

Run:  python assets/generate_sample_reviews.py [--out PATH] [--seed 1234]

Every review is composed from word banks written for this project (openings, aspect opinions,
label-independent details, mixed-but-resolving sentences, closings) over several domains
(products, restaurants, hotels, apps, films, services, books, games). Labels are ``positive``,
``negative`` and ``neutral`` (about 40/40/20). The number of sentences is drawn independently of
the label, so the signal is in the words, not in the length. Clean rows never repeat and never sit
within one word (or only punctuation) of each other, so every problem below is one we planted.

Planted problems, for the data-quality step to find (counts are exact):
  * 10 exact duplicate rows (a clean row repeated with the same label)
  * 5 near-duplicates (a clean row with one word or one punctuation mark changed)
  * 6 conflicting labels (a clean row's text repeated with a different label)
  * 6 empty or whitespace-only texts
  * 5 rows with mojibake (UTF-8 read as cp1252, e.g. "cafÃ©")
  * 4 rows with HTML leftovers ("<br/>", "&amp;")
  * 4 rows with PII: 2 e-mail addresses, 1 phone number, 1 card number (all fake)
  * 3 labels in another case or with spaces (" Positive", "NEGATIVE", "Neutral ")
The output is byte-identical for a given seed (stdlib only; no set iteration, no hashing).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Word banks. One template per line; {item}, {aspect} and {aspect2} come from the domain.
# They are data, not logic: that is why this file runs past the usual ~400 lines.


def _lines(block: str) -> list[str]:
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


OPENINGS = {
    "positive": _lines("""
        I'm really happy with this {item}.
        What a lovely {item}!
        Honestly one of the best {item}s around.
        Five stars from me.
        Couldn't be happier with this {item}.
        I was sceptical at first, but this {item} won me over.
        This {item} is a gem.
        So glad we picked this {item}.
        Wow, what a pleasant surprise.
        I've tried a lot of {item}s and this one is my favourite.
        Delighted with this {item}, genuinely.
        Brilliant {item}, start to finish.
        """),
    "negative": _lines("""
        Really disappointed with this {item}.
        I regret choosing this {item}.
        Avoid this {item} if you can.
        What a letdown.
        I had high hopes for this {item}, but no.
        One star, and that's generous.
        This {item} was a mistake.
        Honestly the worst {item} I've dealt with in years.
        I'm annoyed I wasted my time on this {item}.
        Not impressed with this {item} at all.
        Where do I even start with this {item}?
        Deeply unimpressed.
        """),
    "neutral": _lines("""
        This {item} is alright.
        Mixed feelings about this {item}.
        It's an average {item}.
        Fairly ordinary {item}, to be honest.
        This {item} is fine, I suppose.
        Three stars feels about right.
        A perfectly middling {item}.
        Not sure what to make of this {item}.
        This {item} is okay, more or less what I expected.
        An unremarkable {item}, neither here nor there.
        """),
}

GENERIC_OPENINGS = _lines("""
    Quick review of the {item}.
    Here are my thoughts on the {item}.
    So, the {item}.
    Writing this so others know what to expect from the {item}.
    Some notes on the {item} after using it for a while.
    I promised myself I would review this {item}.
    """)

OPINIONS = {
    "positive": _lines("""
        The {aspect} is excellent.
        I love the {aspect}.
        The {aspect} exceeded my expectations.
        Honestly the {aspect} is not bad at all, it's actually great.
        The {aspect} is far better than I expected.
        Couldn't fault the {aspect}.
        The {aspect} was spot on.
        No complaints about the {aspect} whatsoever.
        The {aspect} and the {aspect2} were both superb.
        Really impressed by the {aspect}.
        The {aspect} is fantastic for the money.
        I was pleasantly surprised by the {aspect}.
        Top marks for the {aspect}.
        The {aspect} never lets me down.
        The {aspect} is wonderful and the {aspect2} is lovely too.
        I can't say enough good things about the {aspect}.
        The {aspect} made the whole thing a joy.
        The {aspect} is clearly done with real care.
        """),
    "negative": _lines("""
        The {aspect} is awful.
        The {aspect} was a real letdown.
        I hate the {aspect}.
        The {aspect} is not good at all.
        The {aspect} was nowhere near what was advertised.
        Terrible {aspect}, honestly.
        The {aspect} and the {aspect2} were both disappointing.
        I can't believe how bad the {aspect} is.
        The {aspect} is not worth the money.
        Zero effort went into the {aspect}.
        The {aspect} was frustrating from day one.
        The {aspect} is poor and the {aspect2} is even worse.
        The {aspect} is a complete joke.
        I've never seen such a shoddy {aspect}.
        The {aspect} was so bad I nearly gave up.
        Nobody seems to care about the {aspect}.
        The {aspect} was rubbish, plain and simple.
        """),
    "neutral": _lines("""
        The {aspect} is okay.
        The {aspect} is about average.
        The {aspect} is fine, nothing special.
        The {aspect} was as described.
        The {aspect} is neither good nor bad.
        The {aspect} was acceptable.
        The {aspect} is standard for this price range.
        Not bad, not great, the {aspect} is just average.
        The {aspect} did what it needed to.
        I have no strong feelings about the {aspect}.
        The {aspect} is decent enough, the {aspect2} is so-so.
        The {aspect} is pretty much what you'd expect.
        The {aspect} was fairly typical.
        The {aspect} is adequate, if a little plain.
        """),
}

MIXED = {
    "positive": _lines("""
        The {aspect} was a bit weak, but the {aspect2} more than made up for it.
        I expected to hate the {aspect}, but I ended up loving it.
        It has a few flaws with the {aspect}, yet overall I'm really happy.
        Not perfect, but the {aspect} is brilliant and that's what matters.
        The {aspect} took some getting used to, and now I wouldn't change a thing.
        Despite a slow start with the {aspect}, it turned out to be excellent.
        """),
    "negative": _lines("""
        The {aspect} looked nice, but the {aspect2} ruined the whole experience.
        I wanted to like it, and the {aspect} was fine, but overall it's a disappointment.
        Sure, the {aspect} is decent, but that doesn't excuse the awful {aspect2}.
        Great {aspect} on paper, terrible in practice.
        The {aspect} started well, then everything went downhill.
        The {aspect} is pretty, but pretty doesn't fix a broken {aspect2}.
        """),
    "neutral": _lines("""
        The {aspect} was good but the {aspect2} was poor, so it evens out.
        Some things about the {aspect} I liked, some I didn't.
        Good {aspect}, weak {aspect2}; overall it's middle of the road.
        It has its ups and downs.
        The {aspect} is nice enough, the {aspect2} less so.
        Half of it worked for me and half of it didn't.
        """),
}

TWISTS = {
    "positive": _lines("""
        My only gripe is the {aspect}, and even that is minor.
        The {aspect} could be a touch better, but I'm nitpicking.
        """),
    "negative": _lines("""
        The only good thing was the {aspect}.
        To be fair, the {aspect} was fine, but that's about it.
        """),
    "neutral": _lines("""
        I'm still undecided, to be honest.
        Ask me again in a month.
        """),
}

CLOSINGS = {
    "positive": _lines("""
        Highly recommended.
        Would definitely go back.
        I'd choose it again without thinking.
        Worth every penny.
        Can't recommend it enough!
        Ten out of ten.
        Thank you, we'll be back!
        Absolutely loved it.
        """),
    "negative": _lines("""
        I won't be back.
        Save your money.
        Would not recommend.
        I'm asking for a refund.
        Avoid.
        Never again.
        Thoroughly disappointing.
        Stay away.
        """),
    "neutral": _lines("""
        Might try it again, might not.
        It's fine if you have no other option.
        Nothing to write home about.
        Your mileage may vary.
        Okay for the price.
        Make of that what you will.
        It'll do.
        """),
}

SHORT = {
    "positive": _lines("""
        Great {item}, highly recommend.
        Love it, works perfectly.
        Absolutely brilliant {item}, five stars.
        Not bad at all, really.
        Best {item} I've ever had.
        Would happily choose it again.
        Superb {aspect}, really impressed.
        Lovely {item}, no complaints.
        Fantastic {aspect}!
        Couldn't be happier.
        Excellent {item}, great {aspect}.
        """),
    "negative": _lines("""
        Total waste of money.
        Worst {item} I've ever had.
        Not worth it, avoid.
        Never again, truly awful.
        Do not choose this {item}.
        Terrible {aspect}, very disappointed.
        Awful {item}, awful {aspect}.
        Dreadful {aspect}.
        Really poor {item}.
        Not good at all.
        Horrible {aspect}, stay away.
        """),
    "neutral": _lines("""
        It's okay, nothing special.
        Does the job, I guess.
        Average {item}, average {aspect}.
        Fine for the price.
        Not bad, not great.
        Three stars, it's alright.
        Decent {aspect}, ordinary {item}.
        Middle of the road {item}.
        An okay {item}, nothing more.
        The {aspect} is standard.
        """),
}

DETAILS = _lines("""
    I went with it after reading a few other reviews.
    This was my first time trying the {item}.
    A friend recommended the {item} to me.
    I compared it with two others before deciding.
    We were a group of four.
    It was a birthday present for my sister.
    I mostly care about the {aspect}, so that is what I paid attention to.
    For context, I had used a similar {item} before.
    My partner and I both tried it.
    I'm writing this a couple of weeks later.
    The price was roughly what I expected.
    I only noticed the {aspect} after a few days.
    """)


def _domain(items: str, aspects: str, positive: str, negative: str, neutral: str, details: str):
    """One domain's banks: comma-separated items and aspects, one template per line otherwise."""
    return {
        "items": [x.strip() for x in items.split(",")],
        "aspects": [x.strip() for x in aspects.split(",")],
        "positive": _lines(positive),
        "negative": _lines(negative),
        "neutral": _lines(neutral),
        "details": _lines(details),
    }


DOMAINS = {
    "product": _domain(
        "blender, laptop, kettle, vacuum cleaner, phone case, coffee machine, backpack, "
        "air fryer, desk lamp, headset, electric toothbrush, running shoe",
        "battery life, build quality, price, packaging, instructions, design, noise level, "
        "delivery, warranty, weight, finish, size",
        """
        Setup took five minutes and it worked first time.
        It feels solid and well made.
        It arrived early and beautifully packed.
        Even my fussy husband likes it.
        It's light, quiet and does exactly what I need.
        """,
        """
        It stopped working after a week.
        It broke the second time I used it.
        Customer support kept sending me in circles.
        The plastic feels cheap and flimsy.
        It arrived scratched and missing a part.
        """,
        """
        It does what it says on the box.
        It works, but so would a cheaper one.
        It's a bit heavier than the photos suggest.
        The colour is slightly different from the picture.
        """,
        """
        I ordered it online and it came in two days.
        I use it most mornings.
        It replaced an older model that finally died.
        """,
    ),
    "restaurant": _domain(
        "restaurant, bistro, pizza place, sushi bar, diner, curry house, taqueria, "
        "brunch spot, steakhouse, noodle bar",
        "food, service, pasta, dessert, wine list, atmosphere, portion size, waiting time, "
        "staff, menu, bill, music",
        """
        The chef clearly knows what they are doing.
        Every dish came out hot and beautifully presented.
        Our waiter was warm, funny and attentive.
        We lingered for hours because it felt so relaxed.
        """,
        """
        We waited forty minutes for cold food.
        The waiter forgot our order twice.
        The tables were sticky and the floor was filthy.
        My steak was raw in the middle and nobody apologised.
        """,
        """
        The menu is the usual mix of starters and mains.
        It was busy but we got a table eventually.
        The food was fine, the kind you forget by the next day.
        """,
        """
        We had the set menu.
        We booked a table for eight o'clock.
        It was a quiet weekday lunch.
        """,
    ),
    "hotel": _domain(
        "hotel, guesthouse, resort, hostel, seaside inn, city hotel, lodge, spa hotel",
        "room, bed, breakfast, reception, location, view, bathroom, wifi, pool, parking, "
        "cleanliness, check-in",
        """
        The room was spotless and the bed was heavenly.
        Staff upgraded us without being asked.
        Breakfast alone was worth the trip.
        We slept better than we do at home.
        """,
        """
        The room smelled of damp and smoke.
        There was hair in the shower and stains on the sheets.
        Reception was rude when we complained about the noise.
        The air conditioning rattled all night.
        """,
        """
        The room was small but clean.
        It's close to the station, which is handy.
        Breakfast was the standard buffet.
        """,
        """
        We stayed for three nights.
        It was a work trip, so I was out most of the day.
        We arrived late in the evening.
        """,
    ),
    "app": _domain(
        "app, budgeting app, meditation app, photo editor, weather app, language app, "
        "note-taking app, fitness tracker app, banking app, podcast app",
        "interface, notifications, subscription, sync, loading time, design, ads, "
        "login, search, dark mode, update, support",
        """
        It's fast, clean and never crashes.
        The latest update made it even better.
        I use it every single day now.
        It genuinely helped me build a habit.
        """,
        """
        It crashes every time I open the camera.
        The latest update broke everything.
        It drains my battery like crazy.
        They keep pushing a subscription at every turn.
        """,
        """
        It works, though the free plan is limited.
        It's similar to every other app like it.
        Some features are hidden behind a paywall.
        """,
        """
        I'm on the free plan.
        I use it on both my phone and tablet.
        I switched from a competitor last month.
        """,
    ),
    "film": _domain(
        "film, movie, sequel, documentary, thriller, romantic comedy, animated film, "
        "horror film, period drama, space epic",
        "plot, acting, soundtrack, ending, pacing, script, cinematography, cast, dialogue, "
        "special effects, characters, running time",
        """
        I laughed, I cried, I want to watch it again.
        The lead gives a career-best performance.
        It stayed with me for days afterwards.
        Every scene feels purposeful.
        """,
        """
        I nearly walked out halfway through.
        The twist was obvious from the first scene.
        It felt twice as long as it actually was.
        The dialogue was painfully wooden.
        """,
        """
        It's watchable on a lazy Sunday.
        It follows the usual formula.
        The middle drags a little but the end picks up.
        """,
        """
        I watched it at the cinema with friends.
        We streamed it at home on a Friday night.
        I haven't seen the first one.
        """,
    ),
    "service": _domain(
        "plumber, moving company, dentist, courier service, gym, hair salon, "
        "cleaning service, car garage, internet provider, airline",
        "price, communication, punctuality, staff, booking process, customer service, "
        "quality of work, follow-up, cancellation policy, waiting room",
        """
        They turned up on time and fixed it in an hour.
        The team was friendly, professional and tidy.
        They explained everything clearly and charged a fair price.
        They went above and beyond for us.
        """,
        """
        They turned up three hours late and left a mess.
        I was charged twice and nobody will answer my emails.
        They cancelled on me the morning of the appointment.
        The job had to be redone by someone else.
        """,
        """
        They did the job, nothing more, nothing less.
        The price was in line with other quotes.
        Booking was straightforward enough.
        """,
        """
        They came out on a Tuesday morning.
        I've been a customer for about a year.
        I found them through a local search.
        """,
    ),
    "book": _domain(
        "novel, cookbook, biography, crime novel, fantasy series, self-help book, "
        "short story collection, travel guide",
        "writing, characters, plot, ending, research, pacing, tone, cover, chapters",
        """
        I couldn't put it down.
        The writing is sharp, funny and moving.
        I've already bought copies for two friends.
        """,
        """
        I gave up after fifty pages.
        It's full of clichés and lazy writing.
        The recipes simply don't work as written.
        """,
        """
        It's a decent read for a long train journey.
        Some chapters are stronger than others.
        It's fine, if a bit forgettable.
        """,
        """
        I read it over a long weekend.
        It was our book club pick this month.
        I listened to the audiobook version.
        """,
    ),
    "game": _domain(
        "game, puzzle game, strategy game, racing game, board game, role-playing game, "
        "card game, platformer",
        "controls, graphics, story, difficulty, multiplayer, soundtrack, levels, "
        "load times, rules, replay value",
        """
        I lost a whole weekend to it in the best way.
        The controls feel tight and responsive.
        Every level has a new idea.
        """,
        """
        It's riddled with bugs and crashes constantly.
        The difficulty spikes are just unfair.
        It feels like a cash grab.
        """,
        """
        It's fun for a few hours, then it gets repetitive.
        The rules take a while to learn.
        It's a solid but familiar experience.
        """,
        """
        I played it for about twenty hours.
        We played it with the kids at Christmas.
        I bought it in a sale.
        """,
    ),
}

N_CLEAN = 2440
LABEL_WEIGHTS = {"positive": 0.4, "negative": 0.4, "neutral": 0.2}
# How many body sentences a review gets; the same for every label (length carries no signal).
BODY_SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
BODY_WEIGHTS = [14, 24, 20, 15, 10, 7, 4, 3, 2, 1]
MAX_WORDS = 125
MIN_WORDS = 4
# Share of body sentences that carry an opinion of another label, so the task is not trivial.
CROSS_OPINION = {"positive": 0.15, "negative": 0.15, "neutral": 0.3}
CROSS_FROM = {
    "positive": ["negative"],
    "negative": ["positive"],
    "neutral": ["positive", "negative"],
}
SEED = 1234
BLANKS = ["", " ", "   ", "\t", "", "  \n "]  # what "empty" looks like in real files
DEFAULT_OUT = Path(__file__).with_name("sample_reviews.csv")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens without punctuation (what near-duplicate checks compare)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def near_keys(text: str) -> list[str]:
    """Keys shared by two texts whose token lists differ in at most one position."""
    toks = tokens(text)
    return [" ".join(toks[:i] + ["*"] + toks[i + 1 :]) for i in range(len(toks))] or [""]


def fill(rng: random.Random, template: str, domain: dict, item: str) -> str:
    """Fill ``{item}``, ``{aspect}`` and ``{aspect2}``; make "is"/"was" agree with plurals."""
    aspect, aspect2 = rng.sample(domain["aspects"], 2)
    text = template.format(item=item, aspect=aspect, aspect2=aspect2)
    for name in (aspect, aspect2):
        if name.endswith("s") and not name.endswith("ss"):  # "the controls are", not "is"
            text = text.replace(f"{name} is ", f"{name} are ").replace(
                f"{name} was ", f"{name} were "
            )
    return text[0].upper() + text[1:]


def pick(rng: random.Random, bank: list[str], used: list[str]) -> str:
    """A template from ``bank`` not yet ``used`` in this review (so no sentence repeats)."""
    for _ in range(8):
        template = rng.choice(bank)
        if template not in used:
            break
    used.append(template)
    return template


def add_typo(rng: random.Random, text: str) -> str:
    """Swap, drop or double one letter in one longer word, as people do on phones."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    w, j = words[i], rng.randrange(1, len(words[i]) - 2)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind == "drop":
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def body_sentence(rng: random.Random, label: str, domain: dict, used: list[str]) -> str:
    """One body sentence's template: mostly an opinion for the label, sometimes a detail."""
    roll = rng.random()
    if roll < CROSS_OPINION[label]:  # real reviews hedge: a stray opinion of the other colour
        return pick(rng, OPINIONS[rng.choice(CROSS_FROM[label])], used)
    if roll < 0.3:
        return pick(rng, DETAILS + domain["details"], used)
    if roll < 0.42:
        return pick(rng, MIXED[label], used)
    if roll < 0.6:
        return pick(rng, domain[label], used)
    return pick(rng, OPINIONS[label], used)


def cap_words(parts: list[str]) -> str:
    """Join sentences, stopping before the text passes ``MAX_WORDS`` (keeps the tail finite)."""
    words, kept = 0, []
    for part in parts:
        words += len(part.split())
        if kept and words > MAX_WORDS:
            break
        kept.append(part)
    return " ".join(kept)


def compose(rng: random.Random, label: str) -> str:
    """Compose one review for ``label``: short form, or opening + body + closing."""
    domain = DOMAINS[rng.choice(sorted(DOMAINS))]
    item = rng.choice(domain["items"])
    n_body = rng.choices(BODY_SIZES, BODY_WEIGHTS)[0]
    if n_body == 0 and rng.random() < 0.6:
        return fill(rng, rng.choice(SHORT[label]), domain, item)
    used: list[str] = []
    # A quarter of reviews open without giving the verdict away, as many real ones do.
    openings = GENERIC_OPENINGS if rng.random() < 0.25 else OPENINGS[label]
    templates = [pick(rng, openings, used)]
    templates += [body_sentence(rng, label, domain, used) for _ in range(n_body)]
    if rng.random() < 0.15:
        templates.insert(rng.randrange(1, len(templates) + 1), pick(rng, TWISTS[label], used))
    if rng.random() < 0.7:
        templates.append(pick(rng, CLOSINGS[label], used))
    text = cap_words([fill(rng, t, domain, item) for t in templates])
    if rng.random() < 0.06:
        text = add_typo(rng, text)
    if rng.random() < 0.08:
        text = text.lower()
    return text


class UniqueTexts:
    """Accepts a text only if no accepted text equals it or sits one token away from it."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}

    def add(self, text: str) -> bool:
        keys = near_keys(text)
        if any(k in self._keys for k in keys):
            return False
        for k in keys:
            self._keys[k] = 1
        return True


def clean_rows(rng: random.Random, seen: UniqueTexts, n: int) -> list[tuple[str, str]]:
    """``n`` unique reviews with labels drawn at about 40/40/20."""
    labels = list(LABEL_WEIGHTS)
    rows: list[tuple[str, str]] = []
    while len(rows) < n:
        label = rng.choices(labels, [LABEL_WEIGHTS[x] for x in labels])[0]
        text = compose(rng, label)
        if len(text.split()) >= MIN_WORDS and seen.add(text):
            rows.append((text, label))
    return rows


def fresh(rng: random.Random, seen: UniqueTexts, label: str) -> str:
    """A new review for ``label`` with two sentences or more, unique like the clean rows."""
    while True:
        text = compose(rng, label)
        if ". " in text and seen.add(text):
            return text


def mojibake(text: str) -> str:
    """UTF-8 bytes decoded as cp1252: what a wrong encoding guess does to accents."""
    return text.encode("utf-8").decode("cp1252")


def _perturb(rng: random.Random, text: str) -> str:
    """Change one word to a close synonym, or one punctuation mark."""
    swaps = [("really", "very"), ("great", "good"), ("the", "this"), ("was", "is"), ("bad", "poor")]
    for old, new in rng.sample(swaps, len(swaps)):
        if f" {old} " in text:
            return text.replace(f" {old} ", f" {new} ", 1)
    return text[:-1] + "!" if text.endswith(".") else text + "."


def planted_rows(rng: random.Random, seen: UniqueTexts, clean: list) -> list[tuple[str, str]]:
    """The deliberately messy rows listed in the module docstring."""
    sources = rng.sample(clean, 21)  # distinct sources, so each problem counts once
    rows = [(t, lab) for t, lab in sources[:10]]  # exact duplicates
    rows += [(_perturb(rng, t), lab) for t, lab in sources[10:15]]  # near-duplicates
    others = {"positive": "negative", "negative": "neutral", "neutral": "positive"}
    rows += [(t, others[lab]) for t, lab in sources[15:21]]  # conflicting labels
    rows += [(blank, rng.choice(list(others))) for blank in BLANKS]
    for word in ["café", "crème brûlée", "entrée", "jalapeño", "rosé"]:
        label = rng.choice(["positive", "negative"])
        extra = f"Side note: the {word} at the place next door was memorable."
        rows.append((mojibake(f"{fresh(rng, seen, label)} {extra}"), label))
    for i in range(4):
        label = rng.choice(["positive", "negative", "neutral"])
        a, b = fresh(rng, seen, label), fresh(rng, seen, label)
        glue = ["<br/>", "<br/><br/>", " &amp; ", "<br />"][i]
        rows.append((f"{a}{glue}{b}".replace(" and ", " &amp; ", 1), label))
    pii = [
        "Contact me at jane.doe@example.com if you want details.",
        "The manager (tom.baker@example.org) never replied.",
        "Call me on +44 20 7946 0958 and I can explain.",
        "They charged my card 4111 1111 1111 1111 twice.",
    ]
    for extra in pii:
        label = rng.choice(["positive", "negative", "neutral"])
        rows.append((f"{fresh(rng, seen, label)} {extra}", label))
    for odd in [" Positive", "NEGATIVE", "Neutral "]:
        rows.append((fresh(rng, seen, odd.strip().lower()), odd))
    return rows


def generate(seed: int = SEED) -> list[tuple[str, str]]:
    """All rows, clean and planted, shuffled with ``seed``.

    Args:
        seed: seed of the one ``random.Random`` used for everything.

    Returns:
        ``(text, label)`` pairs in file order.
    """
    rng = random.Random(seed)
    seen = UniqueTexts()
    clean = clean_rows(rng, seen, N_CLEAN)
    rows = clean + planted_rows(rng, seen, clean)
    rng.shuffle(rows)
    return rows


def write_csv(rows: list[tuple[str, str]], out: Path) -> None:
    """Write ``rows`` as UTF-8 CSV with a ``text,label`` header and ``\\n`` line ends."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    rows = generate(args.seed)
    write_csv(rows, args.out)
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
